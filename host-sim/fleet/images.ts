/**
 * A FirmwareLibrary from real agent builds (Node only): each version is the XS device bundle
 * of device/core/index.ts built with that version (as tools/ota/app-image.ts does), wrapped in the
 * slot image format and signed as an OTA bundle (tools/ota/bundle.ts, the `tether ota sign`
 * format). Each distinct image is evaluated once as an ES module; devices whose booted slot
 * holds that image run that module's Agent.
 *
 * A "bad" image is the same build with a statement in front that throws at start-up: the
 * module fails to evaluate, so every trial boot crashes and the bootloader must roll back.
 */
import type { Sha256 } from "../../device/ports";
import { buildAgentPayload, evaluateImageCode } from "../../tools/ota/app-image";
import { versionNumber } from "../../device/core/ota/version";
import { createBundle, keyPairFromSeed, splitBlocks, DEFAULT_BLOCK_SIZE } from "../../tools/ota/bundle";
import { IMAGE_HASH_SIZE } from "../../bootloader-spec/reference/image";
import type { Scenario } from "./scenario";
import { toHex, type FirmwareCode, type FirmwareLibrary, type OtaBundle } from "./library";

export const FLEET_HARDWARE_ID = "tether-devkit";
/** The fleet's OTA signing key: fixed, so runs are reproducible (a simulation, not a secret). */
const FLEET_KEY = keyPairFromSeed(new Uint8Array(32).fill(0x51));
const BAD_PREFIX = 'throw new Error("bad image: crashes at start-up");\n';

export interface ImageRequest {
  version: string;
  bad?: "crash";
}

/** Every build a scenario needs: its groups' factory firmware and its OTA offers. */
export function firmwareRequests(scenario: Scenario): ImageRequest[] {
  const rollouts = (scenario.rollouts ?? []).map((r) => {
    const [, version, bad] = String(r.request.bundle).split(":");
    return { version, bad: bad === "crash" ? ("crash" as const) : undefined };
  });
  return [...scenario.groups.map((g) => ({ version: g.firmware })), ...scenario.ota.map((o) => ({ version: o.firmware, bad: o.bad })), ...rollouts];
}

interface Built {
  bundle: OtaBundle;
  image: Uint8Array;
  code: FirmwareCode;
}

async function evaluate(payload: Uint8Array, name: string): Promise<{ exports: Record<string, unknown>; crash?: string }> {
  try {
    return { exports: await evaluateImageCode(payload, name) };
  } catch (e) {
    return { exports: {}, crash: (e as Error).message ?? String(e) };
  }
}

/** Builds (in parallel) and loads every requested image; a few hundred ms per version. */
export async function buildFirmwareLibrary(requests: ImageRequest[], sha256: Sha256): Promise<FirmwareLibrary> {
  const versions = [...new Set(requests.map((r) => r.version))];
  const payloads = new Map<string, Uint8Array>();
  const byKey = new Map<string, Built>();
  const byHash = new Map<string, FirmwareCode>();
  await Promise.all(versions.map(async (v) => payloads.set(v, await buildAgentPayload(v))));
  const keys = [...new Set(requests.map((r) => `${r.version}${r.bad ? "!" + r.bad : ""}`))];
  for (const key of keys) {
    const [version, bad] = key.split("!");
    let payload = payloads.get(version)!;
    if (bad === "crash") payload = new Uint8Array([...new TextEncoder().encode(BAD_PREFIX), ...payload]);
    const b = createBundle(payload, { version: versionNumber(version), hardwareId: FLEET_HARDWARE_ID, securityCounter: 1 }, FLEET_KEY.secretKey, sha256);
    const loaded = await evaluate(payload, key.replace(/[^0-9a-z.]/gi, "_"));
    const Agent = loaded.exports.Agent as FirmwareCode["Agent"];
    const code: FirmwareCode = { version, exports: loaded.exports, Agent, crash: loaded.crash ?? (Agent ? undefined : "image exports no Agent") };
    const bundle: OtaBundle = { version: versionNumber(version), envelope: b.envelope, blocks: splitBlocks(b.image, b.manifest.blockSize ?? DEFAULT_BLOCK_SIZE) };
    byKey.set(key, { bundle, image: b.image, code });
    byHash.set(toHex(b.image.subarray(b.image.length - IMAGE_HASH_SIZE)), code);
  }
  const get = (key: string) => {
    const b = byKey.get(key);
    if (!b) throw new Error(`firmware ${key} was not built for this run`);
    return b;
  };
  return {
    hardwareId: FLEET_HARDWARE_ID,
    trustedKeys: [FLEET_KEY.publicKey],
    image: (version) => get(version).image,
    bundle: (version, bad) => get(bad ? `${version}!${bad}` : version).bundle,
    code: (hashHex) => byHash.get(hashHex),
  };
}

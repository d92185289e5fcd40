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
import { toHex, type BadImage, type FirmwareCode, type FirmwareLibrary, type OtaBundle } from "./library";

export const FLEET_HARDWARE_ID = "tether-devkit";
/** The fleet's OTA signing key: fixed, so runs are reproducible (a simulation, not a secret). */
const FLEET_KEY = keyPairFromSeed(new Uint8Array(32).fill(0x51));
const BAD_PREFIX: Record<BadImage, string> = {
  crash: 'throw new Error("bad image: crashes at start-up");\n',
  // A top-level await that never settles: the module never finishes loading.
  hang: "await new Promise(() => {});\n",
};
/** How long a "hang" image's module is given to prove it never finishes loading (real time). */
const HANG_PROOF_MS = 500;

export interface ImageRequest {
  version: string;
  bad?: BadImage;
  /** A manifest that names this version instead of the image's own (a hostile version-mismatch offer). */
  signedAs?: string;
}

/** The library key of a build: version, then "!bad", then "@signedAs". */
export function imageKey(version: string, bad?: BadImage, signedAs?: string): string {
  return `${version}${bad ? "!" + bad : ""}${signedAs ? "@" + signedAs : ""}`;
}

/** Every build a scenario needs: its groups' factory firmware and its OTA offers. */
export function firmwareRequests(scenario: Scenario): ImageRequest[] {
  const hostile = scenario.faults.flatMap((f) => (f.kind === "hostile" && f.firmware !== undefined ? [{ version: f.firmware, signedAs: f.signedAs }] : []));
  const rollouts = (scenario.rollouts ?? []).map((r) => {
    const [, version, bad] = String(r.request.bundle).split(":");
    return { version, bad: bad === "crash" ? ("crash" as const) : undefined };
  });
  return [...scenario.groups.map((g) => ({ version: g.firmware })), ...scenario.ota.map((o) => ({ version: o.firmware, bad: o.bad })), ...rollouts, ...hostile];
}

/**
 * One build of the library as plain data (structured-clonable): what the main thread makes once
 * and hands to shard workers, which only evaluate the code (a module cannot cross threads).
 */
export interface BuiltFirmware {
  key: string;
  version: string;
  bad?: BadImage;
  payload: Uint8Array;
  image: Uint8Array;
  bundle: OtaBundle;
}

async function evaluate(payload: Uint8Array, name: string, bad: string | undefined): Promise<{ exports: Record<string, unknown>; crash?: string; hang?: boolean }> {
  try {
    const loading = evaluateImageCode(payload, name);
    if (bad !== "hang") return { exports: await loading };
    // Only the image built to hang is raced against a timer: a slow machine cannot make a good image "hang".
    const settled = await Promise.race([loading.then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), HANG_PROOF_MS))]);
    if (settled) throw new Error("the hang image finished loading");
    return { exports: {}, hang: true };
  } catch (e) {
    return { exports: {}, crash: (e as Error).message ?? String(e) };
  }
}

/** Builds (in parallel) and signs every requested image; a few hundred ms per version. Nothing is evaluated. */
export async function buildFirmwareImages(requests: ImageRequest[], sha256: Sha256): Promise<BuiltFirmware[]> {
  const versions = [...new Set(requests.map((r) => r.version))];
  const payloads = new Map<string, Uint8Array>();
  await Promise.all(versions.map(async (v) => payloads.set(v, await buildAgentPayload(v))));
  const builds = new Map(requests.map((r) => [imageKey(r.version, r.bad, r.signedAs), r]));
  const built: BuiltFirmware[] = [];
  for (const [key, { version, bad, signedAs }] of builds) {
    let payload = payloads.get(version)!;
    if (bad !== undefined) payload = new Uint8Array([...new TextEncoder().encode(BAD_PREFIX[bad]), ...payload]);
    const signed = versionNumber(signedAs ?? version);
    const b = createBundle(payload, { version: signed, hardwareId: FLEET_HARDWARE_ID, securityCounter: 1 }, FLEET_KEY.secretKey, sha256);
    const bundle: OtaBundle = { version: signed, envelope: b.envelope, imageHex: toHex(b.manifest.sha256), blocks: splitBlocks(b.image, b.manifest.blockSize ?? DEFAULT_BLOCK_SIZE) };
    built.push({ key, version, bad, payload, image: b.image, bundle });
  }
  return built;
}

/** Evaluates built images in this thread (each once, as an ES module) and serves them as a FirmwareLibrary. */
export async function loadFirmwareLibrary(built: BuiltFirmware[]): Promise<FirmwareLibrary> {
  const byKey = new Map<string, BuiltFirmware>();
  const byHash = new Map<string, FirmwareCode>();
  for (const b of built) {
    const loaded = await evaluate(b.payload, b.key.replace(/[^0-9a-z.]/gi, "_"), b.bad);
    const Agent = loaded.exports.Agent as FirmwareCode["Agent"];
    const code: FirmwareCode = {
      version: b.version,
      exports: loaded.exports,
      Agent,
      payload: b.payload,
      hang: loaded.hang,
      crash: loaded.crash ?? (Agent || loaded.hang ? undefined : "image exports no Agent"),
    };
    byKey.set(b.key, b);
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
    bundle: (version, bad, signedAs) => get(imageKey(version, bad, signedAs)).bundle,
    code: (hashHex) => byHash.get(hashHex),
  };
}

/** Builds and loads every requested image in this thread. */
export async function buildFirmwareLibrary(requests: ImageRequest[], sha256: Sha256): Promise<FirmwareLibrary> {
  return loadFirmwareLibrary(await buildFirmwareImages(requests, sha256));
}

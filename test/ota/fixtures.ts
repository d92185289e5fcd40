/** Shared fixtures for the OTA suites: keys, small images, bundles, a provisioned flash and a rig. */
import type { KeyValueStore } from "../../device/ports";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { SimFlash, type FlashFaultHook } from "../../host-sim/virtual/flash";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { bootModel, type BootModelName } from "../../host-sim/boot/boot-models";
import { OtaRig, type Behaviour, type RigConfig } from "../../host-sim/boot/ota-rig";
import { createBundle, keyPairFromSeed, splitBlocks, type Bundle, type SignOptions } from "../../tools/ota/bundle";
import { testSeed } from "../helpers/seed";

export const sha256 = nodeSha256;
export const HW = "tether-devkit";
export const KEY = keyPairFromSeed(new Uint8Array(32).fill(7));
export const ROGUE_KEY = keyPairFromSeed(new Uint8Array(32).fill(9));
export const BLOCK = 4096;
export const SLOT_SIZE = 8 * BLOCK;

/** Deterministic payload bytes for a version (different versions differ everywhere). */
export function payload(version: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (version * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A signed bundle; the default image is 5 blocks long (4 full + 1 partial). */
export function bundle(version: number, o: Partial<SignOptions> & { size?: number; secretKey?: Uint8Array } = {}): Bundle {
  const size = o.size ?? 4 * BLOCK + 1000;
  return createBundle(
    payload(version, size),
    { version, hardwareId: o.hardwareId ?? HW, securityCounter: o.securityCounter ?? 1, expiry: o.expiry, blockSize: o.blockSize ?? BLOCK, format: o.format },
    o.secretKey ?? KEY.secretKey,
    sha256,
  );
}

export function backendFor(b: Bundle): RigConfig["backend"] {
  return { manifest: b.envelope, blocks: new Map(splitBlocks(b.image, b.manifest.blockSize).map((x, i) => [i, x])) };
}

export function freshFlash(fault?: FlashFaultHook, slotSize = SLOT_SIZE): SimFlash {
  return new SimFlash(
    [
      { name: "otadata", size: 2 * BLOCK },
      { name: "ota_0", size: slotSize },
      { name: "ota_1", size: slotSize },
      // NVS (partitions.csv's nvs is 6 pages), for suites that keep the key-value store on flash.
      { name: "storage", size: 6 * BLOCK },
    ],
    { blockSize: BLOCK, fault },
  );
}

/** A device running version `v1` from slot 0 (factory state), factory-flashed for `model`. */
export function factory(v1 = 1, slotSize = SLOT_SIZE, maxTrialBoots?: number, model: BootModelName = "reference"): { flash: SimFlash; kv: MemoryKv; base: Bundle } {
  const flash = freshFlash(undefined, slotSize);
  const base = bundle(v1, { size: 2 * BLOCK + 500 });
  bootModel(model).provision(flash, base.image, 0, { maxTrialBoots });
  return { flash, kv: new MemoryKv(), base };
}

export function rig(
  flash: SimFlash,
  kv: KeyValueStore,
  backend: RigConfig["backend"],
  behaviour: (v: number) => Behaviour = () => "good",
  extra: Partial<RigConfig> = {},
): OtaRig {
  return new OtaRig({ flash, kv, sha256, hardwareId: HW, trustedKeys: [KEY.publicKey], backend, behaviour, wallMs: 1_700_000_000_000, ...extra });
}

/** The SEED env var, or a fresh one; printed with a replay command on failure by the callers. */
export function seedFromEnv(fallback: number): number {
  return testSeed(fallback);
}

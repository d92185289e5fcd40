/**
 * OTA in the XS tier: the device's manifest verification (tweetnacl ed25519, cbor-x, the
 * portable SHA-256) on good and bad offers, then a whole update and a rollback through the
 * reference bootloader on simulated flash. The trace must be identical on XS and Node.
 */
import type { ScenarioHost } from "../scenario-host";
import { jsSha256 } from "../../../host-sim/virtual/sha256";
import { SimFlash } from "../../../host-sim/virtual/flash";
import { MemoryKv } from "../../../host-sim/virtual/kv";
import { provision } from "../../../host-sim/boot/provision";
import { OtaRig } from "../../../host-sim/boot/ota-rig";
import { createBundle, keyPairFromSeed, splitBlocks, type Bundle } from "../../../tools/ota/bundle";
import { encodeEnvelope, parseEnvelope } from "../../../device/core/ota/manifest";
import { tweetnaclVerify } from "../../../device/core/ota/ed25519";
import { trustKeys, verifyOffer } from "../../../device/core/ota/verify";
import { toHex } from "../../../device/core/ota/bytes";

const HW = "tether-devkit";
const BLOCK = 4096;

/** Deterministic image bytes for a version (an LCG): shared with bench/ota.bench.ts. */
export function payload(version: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = version * 7919 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out[i] = x >>> 16;
  }
  return out;
}

export function run(host: ScenarioHost): void {
  const key = keyPairFromSeed(new Uint8Array(32).fill(7));
  const rogue = keyPairFromSeed(new Uint8Array(32).fill(9));
  const make = (version: number, o: { hw?: string; expiry?: number; secret?: Uint8Array; counter?: number } = {}): Bundle =>
    createBundle(payload(version, 2 * BLOCK + 300), { version, hardwareId: o.hw ?? HW, securityCounter: o.counter ?? 1, expiry: o.expiry, blockSize: BLOCK }, o.secret ?? key.secretKey, jsSha256);

  const good = make(2, { expiry: 1_800_000_000 });
  host.emit(`manifest ${good.envelope.length} bytes, image sha256 ${toHex(good.manifest.sha256)}`);
  const env = parseEnvelope(good.envelope);
  const edited = env.manifestBytes.slice();
  edited[3] ^= 1;
  const badSig = env.signature.slice();
  badSig[0] ^= 1;
  const ctx = {
    trustedKeys: trustKeys([key.publicKey], jsSha256),
    hardwareId: HW,
    slotSize: 8 * BLOCK,
    runningVersion: 1,
    securityCounter: 0,
    isRejected: () => false,
    nowSeconds: 1_700_000_000,
    verifySignature: tweetnaclVerify,
  };
  const cases: [string, Uint8Array, Partial<typeof ctx>?][] = [
    ["good", good.envelope],
    ["bad-signature", encodeEnvelope({ ...env, signature: badSig })],
    ["edited", encodeEnvelope({ ...env, manifestBytes: edited })],
    ["unknown-key", make(2, { secret: rogue.secretKey }).envelope],
    ["wrong-hardware", make(2, { hw: "other" }).envelope],
    ["downgrade", good.envelope, { runningVersion: 3 }],
    ["low-counter", good.envelope, { securityCounter: 2 }],
    ["expired", good.envelope, { nowSeconds: 1_900_000_000 }],
    ["garbage", new Uint8Array([0xff, 0xfe, 0x00])],
  ];
  for (const [name, bytes, over] of cases) {
    const v = verifyOffer(bytes, { ...ctx, ...over });
    host.emit(v.ok ? `verify ${name}: ok v${v.manifest.version}` : `verify ${name}: ${v.result} ${v.detail}`);
    host.meter(); // keeps xsnap's hang guard fed between signature checks
  }

  // A whole update, then a rollback of a bad image, through the reference bootloader.
  const flash = new SimFlash(
    [
      { name: "otadata", size: 2 * BLOCK },
      { name: "ota_0", size: 8 * BLOCK },
      { name: "ota_1", size: 8 * BLOCK },
    ],
    { blockSize: BLOCK },
  );
  provision(flash, make(1).image, 0);
  const kv = new MemoryKv();
  const backend = (b: Bundle) => ({ manifest: b.envelope, blocks: new Map(splitBlocks(b.image, BLOCK).map((x, i) => [i, x] as [number, Uint8Array])) });
  const rig = (b: Bundle, bad: number) =>
    new OtaRig({ flash, kv, sha256: jsSha256, hardwareId: HW, trustedKeys: [key.publicKey], backend: backend(b), behaviour: (v) => (v === bad ? "no-health" : "good"), wallMs: 1_700_000_000_000 });
  for (const [b, bad] of [[good, 0], [make(3, { counter: 2 }), 3]] as [Bundle, number][]) {
    const r = rig(b, bad);
    r.runUntilSteady();
    for (const boot of r.boots) {
      host.emit(`boot ${boot.end} slot ${boot.slot} v${boot.version} ${boot.rule}`);
      for (const s of boot.statuses) host.emit(`  status ${s.state}/${s.result} v${s.version ?? "-"} ${s.received ?? ""}/${s.total ?? ""} ${s.detail ?? ""}`);
      host.meter();
    }
  }
}

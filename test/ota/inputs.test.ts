/**
 * Malicious and broken inputs: each is refused with its documented result code, nothing is
 * written to the running slot, and the device keeps running (the boot ends steady).
 */
import { describe, expect, it } from "vitest";
import { OtaResult, OtaState } from "../../device/core/ota/codes";
import { encodeEnvelope, encodeManifest, parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { SLOT_PARTITIONS } from "../../bootloader-spec/reference/bootloader";
import { splitBlocks } from "../../tools/ota/bundle";
import { backendFor, BLOCK, bundle, factory, rig, ROGUE_KEY, SLOT_SIZE } from "./fixtures";
import type { RigConfig } from "../../host-sim/boot/ota-rig";
import type { FlashFaultHook } from "../../host-sim/virtual/flash";

interface Case {
  backend: RigConfig["backend"];
  extra?: Partial<RigConfig>;
  fault?: FlashFaultHook;
}

/** Runs one boot of a v1 device (or `from`) against `c`; returns the statuses and checks the invariants. */
function refuse(c: Case, from = 1) {
  const { flash, kv } = factory(from);
  const running = flash.image(SLOT_PARTITIONS[0]);
  const writesToRunning: string[] = [];
  flash.fault = (op) => {
    if (op.partition === SLOT_PARTITIONS[0]) writesToRunning.push(`${op.kind}@${op.offset}`);
    return c.fault?.(op);
  };
  const budget = c.extra?.bootBudgetMs ?? 600_000;
  const r = rig(flash, kv, c.backend, () => "good", { telemetryEveryMs: 10_000, bootBudgetMs: budget, ...c.extra });
  const b = r.bootOnce();
  expect(b.end).toBe("steady");
  // The device's loop kept running the whole boot: every telemetry tick fired.
  expect(b.ticks).toBe(Math.floor(budget / 10_000));
  expect(b.version).toBe(from);
  expect(writesToRunning).toEqual([]);
  expect(flash.image(SLOT_PARTITIONS[0])).toEqual(running);
  return { statuses: b.statuses, last: b.statuses.at(-1)!, boot: b, r, flash, kv };
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 0x01;
  return out;
}

describe("malicious and broken OTA inputs", () => {
  it("a bad signature → 100", () => {
    const b = bundle(2);
    const env = parseEnvelope(b.envelope);
    const forged = encodeEnvelope({ ...env, signature: flip(env.signature, 10) });
    expect(refuse({ backend: { ...backendFor(b), manifest: forged } }).last).toMatchObject({ result: OtaResult.SignatureRejected });
  });

  it("an unknown key → 101", () => {
    const b = bundle(2, { secretKey: ROGUE_KEY.secretKey });
    expect(refuse({ backend: backendFor(b) }).last).toMatchObject({ result: OtaResult.UnknownKey });
  });

  it("a manifest signed, then edited → 100", () => {
    const b = bundle(2);
    const env = parseEnvelope(b.envelope);
    const edited = encodeManifest({ ...parseManifest(env.manifestBytes), securityCounter: 99 });
    const out = refuse({ backend: { ...backendFor(b), manifest: encodeEnvelope({ ...env, manifestBytes: edited }) } });
    expect(out.last).toMatchObject({ result: OtaResult.SignatureRejected });
  });

  it("an image that does not match its hash → 5; only the bad block is fetched again, and a corrected block completes the update", () => {
    const b = bundle(2);
    const backend = backendFor(b);
    const good = backend.blocks.get(2)!;
    backend.blocks.set(2, flip(good, 100));
    const out = refuse({ backend });
    expect(out.last).toMatchObject({ result: OtaResult.IntegrityFailure, version: 2 });
    // Bad blocks on the broker say nothing about the signed image: the version is not blacklisted,
    // but the blocks already verified in the spare slot are kept, so a retry asks for block 2 only.
    const again = out.r.bootOnce();
    expect(again.statuses.at(-1)).toMatchObject({ result: OtaResult.IntegrityFailure, version: 2 });
    expect(again.wanted).toBeLessThanOrEqual(3);
    backend.blocks.set(2, good);
    const fixed = out.r.bootOnce();
    expect(fixed.statuses.some((s) => s.state === OtaState.Updating)).toBe(true);
  });

  it("a truncated image (last block short) → 5", () => {
    const b = bundle(2);
    const backend = backendFor(b);
    const last = backend.blocks.size - 1;
    backend.blocks.set(last, backend.blocks.get(last)!.subarray(0, 10));
    expect(refuse({ backend }).last).toMatchObject({ result: OtaResult.IntegrityFailure });
  });

  it("an oversized image → 2 (no flash), nothing downloaded", () => {
    const b = bundle(2, { size: SLOT_SIZE });
    const out = refuse({ backend: backendFor(b) });
    expect(out.last).toMatchObject({ result: OtaResult.NoFlash });
    expect(out.boot.wanted).toBe(0);
  });

  it("wrong hardware → 103", () => {
    expect(refuse({ backend: backendFor(bundle(2, { hardwareId: "other-board" })) }).last).toMatchObject({ result: OtaResult.WrongHardware });
  });

  it("a downgrade → 102", () => {
    expect(refuse({ backend: backendFor(bundle(2)) }, 3).last).toMatchObject({ result: OtaResult.DowngradeRefused });
  });

  it("a lower security counter, and a replayed old manifest → 102", () => {
    const { flash, kv } = factory(1);
    const v2 = bundle(2, { securityCounter: 5 });
    const v3 = bundle(3, { securityCounter: 5 });
    expect(rig(flash, kv, backendFor(v2)).runUntilSteady().version).toBe(2);
    expect(rig(flash, kv, backendFor(v3)).runUntilSteady().version).toBe(3);
    const lowCounter = rig(flash, kv, backendFor(bundle(4, { securityCounter: 4 }))).bootOnce();
    expect(lowCounter.statuses.at(-1)).toMatchObject({ result: OtaResult.DowngradeRefused, version: 4 });
    const replay = rig(flash, kv, backendFor(v2)).bootOnce();
    expect(replay.statuses.at(-1)).toMatchObject({ result: OtaResult.DowngradeRefused, version: 2 });
    expect(replay.version).toBe(3);
  });

  it("an expired manifest → 104; expiry with no synced time → deferred (11)", () => {
    const expiry = 1_600_000_000;
    expect(refuse({ backend: backendFor(bundle(2, { expiry })) }).last).toMatchObject({ result: OtaResult.Expired });
    const unsynced = refuse({ backend: backendFor(bundle(2, { expiry: 1_800_000_000 })), extra: { wallMs: undefined, bootBudgetMs: 10_000 } });
    expect(unsynced.last).toMatchObject({ result: OtaResult.Deferred, detail: expect.stringContaining("time") });
  });

  it("missing blocks → 4 after the stall retries; the download resumes on the next boot without starting over", () => {
    const b = bundle(2);
    const { flash, kv } = factory(1);
    const missing = rig(flash, kv, backendFor(b), () => "good", { deliver: (i) => i !== 3 });
    const first = missing.bootOnce();
    expect(first.end).toBe("steady");
    expect(first.statuses.at(-1)).toMatchObject({ result: OtaResult.ConnectionLost, version: 2 });
    const total = b.manifest.length / BLOCK;
    const next = rig(flash, kv, backendFor(b));
    const second = next.bootOnce();
    expect(second.end).toBe("restart");
    expect(second.delivered).toBe(1); // only block 3 was fetched again
    expect(second.statuses[1]).toMatchObject({ received: Math.ceil(total) - 1 });
    expect(next.runUntilSteady().version).toBe(2);
  });

  it("a flash write error → 8; the retry on the next boot succeeds", () => {
    const b = bundle(2);
    const out = refuse({ backend: backendFor(b), fault: (op) => (op.partition === "ota_1" && op.kind === "write" && op.offset === 2 * BLOCK ? { error: "io" } : undefined) });
    expect(out.last).toMatchObject({ result: OtaResult.UpdateFailed, version: 2 });
    out.flash.fault = undefined;
    expect(rig(out.flash, out.kv, backendFor(b)).runUntilSteady().version).toBe(2);
  });

  it("a signed image in a format the bootloader would not boot → 6 after download, never staged", () => {
    const b = bundle(2, { format: "raw" }); // the payload itself, no Tether header
    const out = refuse({ backend: backendFor(b) });
    expect(out.last).toMatchObject({ result: OtaResult.UnsupportedPackage, detail: expect.stringContaining("no Tether image header") });
    expect(out.boot.end).toBe("steady");
  });

  it("garbage CBOR, and not-a-manifest shapes → 6", () => {
    for (const junk of [new Uint8Array([0xff, 0x00, 0x13]), new Uint8Array([0xa1, 0x01]), new Uint8Array([0x83, 1, 2, 3]), new TextEncoder().encode("hello")]) {
      expect(refuse({ backend: { manifest: junk, blocks: new Map() } }).last).toMatchObject({ result: OtaResult.UnsupportedPackage });
    }
  });

  it("a block of the right size but the wrong content for its index never reaches flash", () => {
    const b = bundle(2);
    const backend = backendFor(b);
    const blocks = splitBlocks(b.image, BLOCK);
    backend.blocks.set(1, blocks[0]); // right size, wrong content
    const out = refuse({ backend });
    expect(out.last).toMatchObject({ result: OtaResult.IntegrityFailure });
    expect(out.flash.image("ota_1").subarray(BLOCK, 2 * BLOCK).every((x) => x === 0xff)).toBe(true);
  });
});

/** The reference bootloader and its boot records, rule by rule (bootloader-spec/SPEC.md). */
import { describe, expect, it } from "vitest";
import { runBootloader } from "../../bootloader-spec/reference/bootloader";
import { decodeRecord, encodeRecord, readRecords, RECORD_SIZE, SlotStateCode as S, writeRecord } from "../../bootloader-spec/reference/record";
import { writeSlot } from "../../host-sim/boot/provision";
import { SimBootControl } from "../../host-sim/boot/boot-control";
import { RollbackFailed } from "../../device/ports";
import { PowerCut } from "../../host-sim/virtual/flash";
import { bundle, factory, freshFlash, sha256 } from "./fixtures";

const rec = { bootSlot: 0 as const, states: [S.Valid, S.Empty] as [number, number], trialBoots: 0, maxTrialBoots: 3 };

describe("boot records", () => {
  it("round-trip; any single flipped bit or torn tail makes a copy invalid (or leaves it complete)", () => {
    const bytes = encodeRecord({ ...rec, seq: 7 });
    expect(decodeRecord(bytes)).toEqual({ ...rec, seq: 7 });
    for (let bit = 0; bit < RECORD_SIZE * 8; bit++) {
      const b = bytes.slice();
      b[bit >> 3] ^= 1 << (bit & 7);
      if (bit >= 13 * 8 && bit < 28 * 8) continue; // reserved bytes are covered by the CRC too, checked below
      expect(decodeRecord(b), `bit ${bit}`).toBeUndefined();
    }
    const reserved = bytes.slice();
    reserved[20] = 1;
    expect(decodeRecord(reserved)).toBeUndefined();
    for (let n = 0; n < RECORD_SIZE; n++) {
      const torn = new Uint8Array(RECORD_SIZE).fill(0xff);
      torn.set(bytes.subarray(0, n));
      // Either rejected, or the missing bytes happened to be 0xFF already: then it *is* the full record.
      const got = decodeRecord(torn);
      if (got !== undefined) expect(torn, `torn at ${n}`).toEqual(bytes);
    }
  });

  it("writes alternate between the two copies; a cut write leaves the previous record in force", () => {
    const flash = freshFlash();
    const otadata = flash.open("otadata");
    writeRecord(otadata, rec);
    writeRecord(otadata, { ...rec, bootSlot: 1 });
    expect(readRecords(otadata)).toMatchObject({ latestCopy: 1, latest: { seq: 2, bootSlot: 1 } });
    flash.fault = (op) => (op.kind === "write" ? { powerCut: true, tornBytes: 20 } : undefined);
    expect(() => writeRecord(otadata, { ...rec, bootSlot: 0 })).toThrow(PowerCut);
    flash.powerOn();
    expect(readRecords(otadata)).toMatchObject({ latestCopy: 1, latest: { seq: 2, bootSlot: 1 }, copies: [undefined, expect.anything()] });
  });
});

describe("reference bootloader rules", () => {
  it("R1/R2: fresh records boot a valid slot 0 with no write", () => {
    const { flash } = factory(1);
    const before = flash.opCount;
    expect(runBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0, state: "valid", rule: "R2 valid" });
    expect(flash.opCount).toBe(before);
  });

  it("R3/R4: a new image becomes pending; it gets N trial boots, then is aborted and the old slot boots (R5)", () => {
    const { flash } = factory(1);
    writeSlot(flash, 1, bundle(2).image);
    new SimBootControl(flash, 0, true, () => {}).setPending(1);
    const seen = [1, 2, 3, 4].map(() => {
      const o = runBootloader(flash, sha256, { maxTrialBoots: 3 });
      return o.ok ? `${o.slot}:${o.state}:${o.rule}` : o.reason;
    });
    expect(seen).toEqual(["1:pending-verify:R3 trial 1", "1:pending-verify:R4 trial 2", "1:pending-verify:R4 trial 3", "0:valid:R5 fallback"]);
    expect(readRecords(flash.open("otadata")).latest!.states).toEqual([S.Valid, S.Aborted]);
  });

  it("a selected image that fails its hash is marked invalid and never booted", () => {
    const { flash } = factory(1);
    const img = bundle(2).image;
    writeSlot(flash, 1, img.subarray(0, img.length - 1)); // last byte missing (still erased)
    new SimBootControl(flash, 0, true, () => {}).setPending(1);
    expect(runBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0, rule: "R5 fallback" });
    expect(readRecords(flash.open("otadata")).latest!.states[1]).toBe(S.Invalid);
  });

  it("R6: with nothing valid to fall back to, a verified image boots rather than a brick; no image at all is reported", () => {
    const flash = freshFlash();
    writeSlot(flash, 1, bundle(2).image);
    writeRecord(flash.open("otadata"), { bootSlot: 1, states: [S.Empty, S.PendingVerify], trialBoots: 3, maxTrialBoots: 3 });
    expect(runBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 1, state: "valid", rule: "R6 last resort" });
    expect(runBootloader(freshFlash(), sha256)).toMatchObject({ ok: false });
  });

  it("R7: without rollback support states are ignored and read as undefined", () => {
    const { flash } = factory(1);
    const o = runBootloader(flash, sha256, { rollback: false });
    expect(o).toMatchObject({ ok: true, slot: 0, state: "undefined", rollback: false });
    const bc = new SimBootControl(flash, 0, false, () => {});
    expect(bc.runningState()).toBe("undefined");
    expect(() => bc.markInvalidAndRollback()).toThrow(RollbackFailed);
  });

  it("markInvalidAndRollback with no valid image to go back to fails without looping", () => {
    const { flash } = factory(1);
    let restarts = 0;
    const bc = new SimBootControl(flash, 0, true, () => restarts++);
    expect(() => bc.markInvalidAndRollback()).toThrow(RollbackFailed);
    expect(restarts).toBe(0);
    expect(runBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0 });
  });
});

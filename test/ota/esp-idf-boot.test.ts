/**
 * The ESP-IDF boot model (host-sim/boot/esp-idf-*.ts) against what ESP-IDF v5.4.1 does, and
 * against the reference model where the two must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RollbackFailed, type SlotIndex } from "../../device/ports";
import { bootModel, type BootModelName } from "../../host-sim/boot/boot-models";
import { runEspIdfBootloader } from "../../host-sim/boot/esp-idf-bootloader";
import { EspIdfBootControl } from "../../host-sim/boot/esp-idf-boot-control";
import { activeOtadata, decodeEntry, encodeEntry, highestSeq, OtaImgState, readOtadata, seqCrc, writeEntry, blankEntry } from "../../host-sim/boot/esp-idf-otadata";
import { writeSlot } from "../../host-sim/boot/provision";
import { PowerCut, type FlashOp, type SimFlash } from "../../host-sim/virtual/flash";
import { testSeed } from "../helpers/seed";
import { bundle, factory, sha256 } from "./fixtures";

const seed = testSeed(0x1d1d);

function ops(flash: SimFlash): FlashOp[] {
  const seen: FlashOp[] = [];
  flash.fault = (op) => void seen.push(op);
  return seen;
}

function control(flash: SimFlash, slot: SlotIndex, restart: () => void = () => {}) {
  return new EspIdfBootControl(flash, sha256, slot, true, restart);
}

/** A factory device on ESP-IDF after its first boot, with v2 staged in slot 1 (setPending done). */
function staged(): SimFlash {
  const { flash } = factory(1, undefined, undefined, "esp-idf");
  expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0 });
  writeSlot(flash, 1, bundle(2).image);
  control(flash, 0).setPending(1);
  return flash;
}

describe("esp_ota_select_entry_t", () => {
  it("matches ESP-IDF's bytes: CRC over ota_seq only (esp_rom_crc32_le(UINT32_MAX, ...))", () => {
    // The entry esptool's otadata for ota_0 holds: 01 00 00 00, 20 x FF, state, 9a 98 43 47.
    expect(seqCrc(1)).toBe(0x4743989a);
    const b = encodeEntry({ ...blankEntry(), seq: 1, state: OtaImgState.Valid, crc: seqCrc(1) });
    expect([...b.subarray(0, 4), ...b.subarray(24)]).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 0x9a, 0x98, 0x43, 0x47]);
    expect(decodeEntry(b)).toEqual({ seq: 1, label: new Uint8Array(20).fill(0xff), state: 2, crc: 0x4743989a });
  });

  it("selects the highest ota_seq with a good CRC that is neither INVALID nor ABORTED", () => {
    const e = (seq: number, state: number, crc = seqCrc(seq)) => ({ ...blankEntry(), seq, state, crc });
    expect(activeOtadata([e(1, OtaImgState.Valid), e(2, OtaImgState.New)])).toBe(1);
    expect(activeOtadata([e(3, OtaImgState.Valid), e(2, OtaImgState.Valid)])).toBe(0);
    expect(activeOtadata([e(1, OtaImgState.Valid), e(2, OtaImgState.Aborted)])).toBe(0);
    expect(activeOtadata([e(1, OtaImgState.Invalid), e(2, OtaImgState.Valid, 0)])).toBe(-1);
    // The state is not covered by the CRC: a half-programmed state still selects.
    expect(activeOtadata([e(1, OtaImgState.Valid), e(2, 0x0000ff02)])).toBe(1);
    expect(highestSeq([e(1, OtaImgState.Valid), e(2, OtaImgState.Aborted)])).toBe(2);
  });
});

describe("ESP-IDF bootloader and esp_ota_* on simulated flash", () => {
  it("a factory flash (blank otadata) boots ota_0 and writes {seq 1, VALID} into sector 0 once", () => {
    const { flash } = factory(1, undefined, undefined, "esp-idf");
    const seen = ops(flash);
    expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0, state: "valid" });
    expect(seen.map((o) => `${o.kind}@${o.offset}`)).toEqual(["erase@0", "write@0"]);
    expect(readOtadata(flash.open("otadata"))[0]).toMatchObject({ seq: 1, state: OtaImgState.Valid });
    expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0 });
    expect(seen).toHaveLength(2);
  });

  it("setPending writes the other sector; NEW→PENDING_VERIFY and markValid rewrite the active sector in place", () => {
    const flash = staged();
    expect(readOtadata(flash.open("otadata"))[1]).toMatchObject({ seq: 2, state: OtaImgState.New });
    const seen = ops(flash);
    expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 1, state: "pending-verify" });
    control(flash, 1).markValid();
    control(flash, 1).markValid(); // already VALID: no write
    expect(seen.map((o) => `${o.kind}@${o.offset}`)).toEqual(["erase@4096", "write@4096", "erase@4096", "write@4096"]);
    expect(readOtadata(flash.open("otadata")).map((e) => [e.seq, e.state])).toEqual([
      [1, OtaImgState.Valid],
      [2, OtaImgState.Valid],
    ]);
    // The next update goes to slot 0 with seq 3, in sector 0 (the non-active one).
    writeSlot(flash, 0, bundle(3).image);
    control(flash, 1).setPending(0);
    expect(readOtadata(flash.open("otadata"))[0]).toMatchObject({ seq: 3, state: OtaImgState.New });
  });

  it("one unconfirmed reset aborts the trial in place and boots the previous slot", () => {
    const flash = staged();
    expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ slot: 1, state: "pending-verify" });
    const out = runEspIdfBootloader(flash, sha256);
    expect(out).toMatchObject({ ok: true, slot: 0, state: "valid" });
    expect(readOtadata(flash.open("otadata")).map((e) => [e.seq, e.state])).toEqual([
      [1, OtaImgState.Valid],
      [2, OtaImgState.Aborted],
    ]);
    const app = control(flash, 0);
    expect(app.slotState(1)).toBe("aborted");
    expect(app.recordSeq()).toBe(2);
  });

  it("a power cut while ABORTED is written: the old slot boots, and seq and state look as if setPending never landed", () => {
    const flash = staged();
    const seqBefore = 1; // recordSeq() before setPending
    runEspIdfBootloader(flash, sha256); // trial boot
    flash.fault = (op) => (op.kind === "write" ? { powerCut: true } : undefined); // erase done, entry not written
    expect(() => runEspIdfBootloader(flash, sha256)).toThrow(PowerCut);
    flash.fault = undefined;
    flash.powerOn();
    expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0 });
    const app = control(flash, 0);
    expect(app.recordSeq()).toBe(seqBefore);
    expect(app.slotState(1)).toBe("undefined");
  });

  it("markInvalidAndRollback with nothing valid to go back to: ESP_ERR_OTA_ROLLBACK_FAILED, no write, no restart", () => {
    const { flash } = factory(1, undefined, undefined, "esp-idf");
    runEspIdfBootloader(flash, sha256);
    let restarts = 0;
    const seen = ops(flash);
    expect(() => control(flash, 0, () => restarts++).markInvalidAndRollback()).toThrow(RollbackFailed);
    expect(restarts).toBe(0);
    expect(seen).toEqual([]);
  });

  it("a trial whose rollback target rotted: rollback fails, and the bootloader settles on the trial image without a loop", () => {
    const flash = staged();
    runEspIdfBootloader(flash, sha256);
    const slot0 = flash.open("ota_0");
    slot0.eraseBlock(0); // the old image no longer loads
    let restarts = 0;
    expect(() => control(flash, 1, () => restarts++).markInvalidAndRollback()).toThrow(/ROLLBACK_FAILED/);
    expect(restarts).toBe(0);
    const first = runEspIdfBootloader(flash, sha256); // PENDING_VERIFY → ABORTED; ota_0 does not load → ota_1
    expect(first).toMatchObject({ ok: true, slot: 1, state: "aborted" });
    const seen = ops(flash);
    for (let i = 0; i < 3; i++) expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 1 });
    expect(seen).toEqual([]); // a stable boot, not a write loop
  });

  it("setPending refuses a slot whose image does not load (ESP_ERR_OTA_VALIDATE_FAILED) and writes nothing", () => {
    const { flash } = factory(1, undefined, undefined, "esp-idf");
    runEspIdfBootloader(flash, sha256);
    const img = bundle(2).image;
    writeSlot(flash, 1, img.subarray(0, img.length - 1));
    const seen = ops(flash);
    expect(() => control(flash, 0).setPending(1)).toThrow(/VALIDATE_FAILED/);
    expect(seen).toEqual([]);
  });

  it("with no active entry but a bad CRC on one copy, every slot is tried and nothing is written", () => {
    const { flash } = factory(1, undefined, undefined, "esp-idf");
    writeSlot(flash, 1, bundle(2).image);
    const otadata = flash.open("otadata");
    writeEntry(otadata, 0, { ...blankEntry(), seq: 1, state: OtaImgState.Invalid, crc: seqCrc(1) });
    writeEntry(otadata, 1, { ...blankEntry(), seq: 2, state: OtaImgState.Valid, crc: 0x1234 });
    const seen = ops(flash);
    expect(runEspIdfBootloader(flash, sha256)).toMatchObject({ ok: true, slot: 0 });
    expect(seen).toEqual([]);
  });
});

describe("reference vs ESP-IDF model (N = 1): the app sees the same boots", () => {
  type Op = { kind: "update" } | { kind: "confirm" } | { kind: "reject" } | { kind: "reset" };
  const op = fc.oneof(
    fc.constant<Op>({ kind: "update" }),
    fc.constant<Op>({ kind: "confirm" }),
    fc.constant<Op>({ kind: "reject" }),
    fc.constant<Op>({ kind: "reset" }),
  );

  const images = new Map<number, Uint8Array>();
  const image = (v: number) => images.get(v) ?? images.set(v, bundle(v).image).get(v)!;

  /** Runs the app-level operations on one model; returns what the app sees at every step. */
  function trace(name: BootModelName, steps: Op[]): string[] {
    const model = bootModel(name);
    const { flash } = factory(1, undefined, 1, name);
    const out: string[] = [];
    let version = 1;
    let booted = model.boot(flash, sha256, { maxTrialBoots: 1 });
    for (const step of steps) {
      if (!booted.ok) return [...out, "brick"];
      let restarted = false;
      const app = model.control(flash, sha256, booted, () => (restarted = true));
      const running = app.runningState();
      if (step.kind === "update" && (running === "valid" || running === "undefined")) {
        const target: SlotIndex = booted.slot === 0 ? 1 : 0;
        writeSlot(flash, target, image(++version));
        app.setPending(target);
        restarted = true;
      } else if (step.kind === "confirm" && running === "pending-verify") {
        app.markValid();
      } else if (step.kind === "reject" && running === "pending-verify") {
        try {
          app.markInvalidAndRollback();
        } catch (e) {
          if (!(e instanceof RollbackFailed)) throw e;
          out.push("rollback-failed");
        }
      } else if (step.kind === "reset") {
        restarted = true;
      }
      if (restarted) booted = model.boot(flash, sha256, { maxTrialBoots: 1 });
      out.push(booted.ok ? `v${booted.header.version}@${booted.slot}:${model.control(flash, sha256, booted, () => {}).runningState()}` : "brick");
    }
    return out;
  }

  it("the same slot, version and running state after every step of random update/confirm/reject/reset runs", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 24 }), (steps) => {
        expect(trace("esp-idf", steps)).toEqual(trace("reference", steps));
      }),
      { numRuns: 150, seed },
    );
  }, 180_000);
});

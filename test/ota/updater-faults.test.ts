/**
 * The updater against the faults and careless publishers of issues 10 and 11, driven by hand on
 * the reference bootloader: read faults and a failing hash engine, preconditions that change
 * mid-download, the same manifest arriving as the last block lands, a withdrawn offer, a
 * manifest version that differs from the build's, statuses matched to their offers, and trials
 * cut short by power or network loss.
 */
import { describe, expect, it } from "vitest";
import { OtaResult, OtaState, TrialCause } from "../../device/core/ota/codes";
import type { OtaStatus } from "../../device/core/ota/status";
import { DeviceHalted } from "../../host-sim/virtual/system";
import { splitBlocks } from "../../tools/ota/bundle";
import { FlashError, KvError, type Flash, type Sha256 } from "../../device/ports";
import type { SimFlash } from "../../host-sim/virtual/flash";
import { backendFor, BLOCK, bundle, factory, rig, ROGUE_KEY, sha256 } from "./fixtures";
import { handDevice } from "./hand-device";

const device = handDevice;

/** A Flash whose reads of the spare slots fail while `failing` is set. */
function readFaults(flash: SimFlash) {
  const ctl = { failing: false, reads: 0, failAfter: Infinity };
  const wrapped: Flash = {
    open(name) {
      const p = flash.open(name);
      if (name !== "ota_1") return p;
      return {
        name: p.name,
        size: p.size,
        blockSize: p.blockSize,
        read: (off, len) => {
          ctl.reads++;
          if (ctl.failing || ctl.reads > ctl.failAfter) throw new FlashError("io", `read error at ${off}`);
          return p.read(off, len);
        },
        write: (off, data) => p.write(off, data),
        eraseBlock: (i) => p.eraseBlock(i),
      };
    },
  };
  return { flash: wrapped, ctl };
}

/** A SHA port that fails while `failing` is set (a hardware accelerator error). */
function shaFaults() {
  const ctl = { failing: false };
  const sha: Sha256 = {
    create() {
      if (ctl.failing) throw new Error("sha: accelerator busy");
      const h = sha256.create();
      return {
        update: (b) => {
          if (ctl.failing) throw new Error("sha: accelerator busy");
          h.update(b);
        },
        digest: () => h.digest(),
      };
    },
  };
  return { sha, ctl };
}

const sha256Hex = (b: Uint8Array) => {
  const h = sha256.create();
  h.update(b);
  return Buffer.from(h.digest()).toString("hex");
};

describe("read faults and a failing hash engine (issue 11 item 3)", () => {
  it("a read error while the whole image is checked ends the update with 8, with no timer left and nothing staged", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const rf = readFaults(flash);
    const d = device(flash, kv, 1, { flash: rf.flash });
    d.ota.offer(b.envelope);
    for (let i = 0; i < blocks.length - 1; i++) d.ota.block(i, blocks[i]);
    rf.ctl.failAfter = rf.ctl.reads + 1; // the last block's read-back passes; every read after it fails
    expect(() => d.ota.block(blocks.length - 1, blocks.at(-1)!)).not.toThrow();
    expect(rf.ctl.reads).toBeGreaterThan(rf.ctl.failAfter); // the whole-image check did read, and failed
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Idle, result: OtaResult.UpdateFailed, version: 2 });
    expect(d.ota.state).toBe("idle");
    expect(d.clock.pending()).toBe(0); // no stall timer, no "downloading for ever"
    expect(d.restarts()).toBe(0);
    // The fault clears: the next offer resumes from the slot and completes.
    rf.ctl.failAfter = Infinity;
    expect(() => d.ota.offer(b.envelope)).toThrow(DeviceHalted);
    expect(rig(flash, kv, backendFor(b)).runUntilSteady().version).toBe(2);
  });

  it("a read error in the resume scan ends the offer with 8 instead of throwing out of the updater", () => {
    const { flash, kv } = factory(1);
    const rf = readFaults(flash);
    rf.ctl.failing = true;
    const d = device(flash, kv, 1, { flash: rf.flash });
    expect(() => d.ota.offer(bundle(2).envelope)).not.toThrow();
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.UpdateFailed, version: 2 });
    expect(d.ota.state).toBe("idle");
    expect(d.clock.pending()).toBe(0);
  });

  it("a failing hash engine during the download and the final check ends the update with 8", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const sf = shaFaults();
    const d = device(flash, kv, 1, { sha: sf.sha });
    d.ota.offer(b.envelope);
    d.ota.block(0, blocks[0]);
    sf.ctl.failing = true;
    expect(() => d.ota.block(1, blocks[1])).not.toThrow();
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.UpdateFailed, version: 2 });
    expect(d.clock.pending()).toBe(0);
  });
});

describe("preconditions hold for the whole download (issue 11 item 6)", () => {
  it("a battery that drops mid-download pauses it (11), and it resumes from the slot when the battery recovers", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    let battery = 80;
    const d = device(flash, kv, 1, { options: { preconditions: () => (battery < 30 ? `battery ${battery}% below 30%` : undefined) } });
    d.ota.offer(b.envelope);
    d.ota.block(0, blocks[0]);
    d.ota.block(1, blocks[1]);
    battery = 12;
    d.ota.block(2, blocks[2]);
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Idle, result: OtaResult.Deferred, version: 2, detail: "battery 12% below 30%" });
    const written = flash.image("ota_1").slice(2 * BLOCK, 3 * BLOCK);
    expect(written.every((x) => x === 0xff)).toBe(true); // block 2 was not written on a low battery
    d.ota.block(3, blocks[3]);
    expect(d.ota.state).toBe("deferred");
    battery = 90;
    d.wants.length = 0;
    d.clock.advance(60_000);
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Downloading, version: 2, received: 2 });
    expect(d.wants.flat().sort()).toEqual([2, 3, 4]);
  });
});

describe("careless and hostile publishers (issue 10 items 3, 8, 10)", () => {
  it("the same manifest arriving as the last block lands restarts once, never twice", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const d = device(flash, kv, 1, { softRestart: true });
    d.ota.offer(b.envelope);
    for (const [i, x] of blocks.entries()) d.ota.block(i, x);
    expect(d.restarts()).toBe(1);
    d.ota.offer(b.envelope); // the retained manifest again (a resubscription) while the restart is under way
    d.ota.resume();
    d.ota.block(0, blocks[0]);
    d.clock.advance(120_000);
    expect(d.restarts()).toBe(1);
    expect(d.ota.state).toBe("restarting");
  });

  it("withdrawing the offer (empty retained manifest) cancels the download, and the version is not installed later", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const d = device(flash, kv, 1, { softRestart: true });
    d.ota.offer(b.envelope);
    d.ota.block(0, blocks[0]);
    d.ota.offer(new Uint8Array(0));
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Idle, result: OtaResult.Cancelled, version: 2 });
    for (const [i, x] of blocks.entries()) d.ota.block(i, x); // retained blocks still arriving
    d.clock.advance(600_000);
    expect(d.restarts()).toBe(0);
    expect(d.ota.state).toBe("idle");
  });

  it("withdrawing a deferred offer cancels it too", () => {
    const { flash, kv } = factory(1);
    const d = device(flash, kv, 1, { softRestart: true, options: { preconditions: () => "busy" } });
    d.ota.offer(bundle(2).envelope);
    expect(d.ota.state).toBe("deferred");
    d.ota.offer(new Uint8Array(0));
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.Cancelled, version: 2 });
    d.clock.advance(600_000);
    expect(d.ota.state).toBe("idle");
  });

  it("every status carries the offer id (SHA-256 of the manifest message), refusals without a version included", () => {
    const { flash, kv } = factory(1);
    const d = device(flash, kv, 1);
    const rogue = bundle(2, { secretKey: ROGUE_KEY.secretKey }).envelope;
    d.ota.offer(rogue);
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.UnknownKey });
    expect(Buffer.from(d.ota.lastStatus()!.offer!).toString("hex")).toBe(sha256Hex(rogue));
    const garbage = new Uint8Array([0xa1, 0x01, 0x02]);
    d.ota.offer(garbage);
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.UnsupportedPackage });
    expect(Buffer.from(d.ota.lastStatus()!.offer!).toString("hex")).toBe(sha256Hex(garbage));
    const good = bundle(2).envelope;
    d.ota.offer(good);
    expect(d.statuses.filter((s) => s.version === 2 && s.result === OtaResult.Initial).every((s) => Buffer.from(s.offer!).toString("hex") === sha256Hex(good))).toBe(true);
  });

  it("a build of 0.0.2 signed as version 4 confirms as 4 and never installs 4 again (no update loop)", () => {
    const { flash, kv } = factory(1);
    const b = bundle(4);
    const blocks = splitBlocks(b.image, BLOCK);
    const old = device(flash, kv, 1);
    old.ota.offer(b.envelope);
    expect(() => blocks.forEach((x, i) => old.ota.block(i, x))).toThrow(DeviceHalted);
    // The trial image's code says 2 (its build), the manifest it was verified under says 4.
    const trial = device(flash, kv, 2, { reset: "software" });
    expect(trial.ota.state).toBe("trial");
    trial.ota.noteConnected();
    trial.ota.offer(b.envelope); // the retained offer, still there
    trial.ota.noteTelemetryAcked();
    expect(trial.statuses.find((s) => s.result === OtaResult.Success && s.detail === "image confirmed")).toMatchObject({ version: 4, running: 4 });
    expect(trial.ota.lastStatus()).toMatchObject({ result: OtaResult.Success, version: 4, running: 4, detail: "already running" });
    expect(trial.wants).toEqual([]);
    // And after any later reboot.
    const later = device(flash, kv, 2);
    expect(later.ota.runningVersion()).toBe(4);
    expect(() => later.ota.offer(b.envelope)).not.toThrow();
    expect(later.ota.lastStatus()).toMatchObject({ result: OtaResult.Success, running: 4, detail: "already running" });
    expect(later.wants).toEqual([]);
  });
});

describe("power and network loss are not crashes (issue 11 item 2)", () => {
  it("a power cut during an ESP-IDF trial (one trial boot) is retried after a backoff and the release lands", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    let onTrial = false;
    let cut = false;
    flash.fault = (op) => {
      if (onTrial && !cut && op.partition === "otadata" && op.kind === "write") {
        cut = true;
        return { powerCut: true };
      }
      return undefined;
    };
    const r = rig(flash, kv, backendFor(b), () => "good", { bootloader: { maxTrialBoots: 1 }, afterBoot: (slot) => (onTrial = slot === 1) });
    const last = r.runUntilSteady();
    expect(cut).toBe(true);
    expect(last.version).toBe(2);
    const interrupted = r.boots.flatMap((x) => x.statuses).find((s) => s.result === OtaResult.TrialInterrupted);
    expect(interrupted).toMatchObject({ version: 2, cause: TrialCause.PowerLoss, attempt: 1 });
    expect(r.boots.flatMap((x) => x.statuses).some((s) => s.result === OtaResult.RolledBack || s.result === OtaResult.PreviouslyRejected)).toBe(false);
  });

  it("a trial that cannot reach the broker rolls back as retryable (109, network); a third such trial rejects it (105)", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const statuses: OtaStatus[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const old = device(flash, kv, 1, { reset: attempt === 1 ? "power-on" : "software" });
      statuses.push(...old.statuses);
      old.ota.offer(b.envelope);
      if (attempt === 1) {
        expect(() => blocks.forEach((x, i) => old.ota.block(i, x))).toThrow(DeviceHalted);
      } else {
        // Retried by itself after the backoff: the image is in the slot already.
        expect(old.ota.lastStatus()).toMatchObject({ result: OtaResult.Deferred, version: 2 });
        expect(() => old.clock.advance(10 * 60_000)).toThrow(DeviceHalted);
      }
      const trial = device(flash, kv, 2, { reset: "software" });
      expect(trial.ota.state).toBe("trial");
      expect(() => trial.clock.advance(130_000)).toThrow(DeviceHalted); // health timeout offline: rolls back
      expect(trial.ota.lastStatus()).toMatchObject({ result: OtaResult.TrialInterrupted, cause: TrialCause.Network, attempt });
    }
    const back = device(flash, kv, 1, { reset: "software" });
    statuses.push(...back.statuses);
    expect(statuses.filter((s) => s.result === OtaResult.TrialInterrupted).map((s) => [s.cause, s.attempt])).toEqual([
      [TrialCause.Network, 1],
      [TrialCause.Network, 2],
    ]);
    expect(back.ota.lastStatus()).toMatchObject({ result: OtaResult.RolledBack, cause: TrialCause.Network, attempt: 3, version: 2 });
    back.ota.offer(b.envelope);
    expect(back.ota.lastStatus()).toMatchObject({ result: OtaResult.PreviouslyRejected });
  });

  it("a crashing trial is rejected at once (105, crash), as before", () => {
    const { flash, kv } = factory(1);
    const r = rig(flash, kv, backendFor(bundle(2)), (v) => (v === 2 ? "crash" : "good"));
    r.runUntilSteady();
    expect(r.boots.flatMap((x) => x.statuses).find((s) => s.result === OtaResult.RolledBack)).toMatchObject({ version: 2, cause: TrialCause.Crash });
    expect(r.bootOnce().wanted).toBe(0);
  });

  it("a crash whose rejection cannot be written to NVS is still never installed again (the attempt record keeps the verdict)", () => {
    for (const model of ["reference", "esp-idf"] as const) {
      const { flash, kv } = factory(1, undefined, undefined, model);
      // NVS refuses the rejected-versions list (full, or failing), as a torn page can leave it.
      kv.beforeWrite = (_kind, key) => {
        if (key === "ota.rej") throw new KvError("full", "kv: no free entry");
      };
      const r = rig(flash, kv, backendFor(bundle(2)), (v) => (v === 2 ? "crash" : "good"), { bootModel: model });
      for (let i = 0; i < 12; i++) r.bootOnce();
      const firstCrash = r.boots.findIndex((b) => b.end === "crash");
      const back = r.boots.findIndex((b, i) => i > firstCrash && b.version === 1);
      const at = `${model}: ${r.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`;
      expect(firstCrash, at).toBeGreaterThanOrEqual(0);
      // Before: "could not remember rejected version 2" was logged, the record cleared, and the retained offer installed v2 again.
      expect(r.boots.slice(back).some((b) => b.version === 2), at).toBe(false);
      expect(r.boots.at(-1)!.statuses.some((s) => s.result === OtaResult.PreviouslyRejected || s.result === OtaResult.RolledBack), at).toBe(true);
    }
  });
});

/**
 * The OTA state machine driven by hand (no rig): duplicated and reordered blocks, resume after
 * a disconnect, and the policies: bad firmware rolled back and never retried, offers during a
 * trial, rollback unavailable, preconditions.
 */
import { describe, expect, it } from "vitest";
import { OtaResult, OtaState } from "../../device/core/ota/codes";
import { DeviceHalted } from "../../host-sim/virtual/system";
import { splitBlocks } from "../../tools/ota/bundle";
import { backendFor, BLOCK, bundle, factory, rig } from "./fixtures";
import { handDevice } from "./hand-device";
import type { SimFlash } from "../../host-sim/virtual/flash";
import type { MemoryKv } from "../../host-sim/virtual/kv";

function device(flash: SimFlash, kv: MemoryKv, version: number, opts: { preconditions?: () => string | undefined; rollback?: boolean } = {}) {
  return handDevice(flash, kv, version, { rollback: opts.rollback, options: { preconditions: opts.preconditions } });
}

describe("ota flow", () => {
  it("takes blocks duplicated, reordered and unasked-for, ignores strays, and stages the image", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const d = device(flash, kv, 1);
    d.ota.offer(b.envelope);
    expect(d.wants[0]).toEqual([0, 1, 2, 3]); // a window of 4
    d.ota.block(99, blocks[0]);
    d.ota.block(-1, blocks[0]);
    d.ota.block(1.5, blocks[0]);
    for (const i of [3, 3, 1, 0, 1]) d.ota.block(i, blocks[i]);
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Downloading });
    d.ota.block(2, blocks[2]);
    expect(() => d.ota.block(4, blocks[4])).toThrow(DeviceHalted); // staged: restart
    expect(d.statuses.map((s) => s.state).slice(-2)).toEqual([OtaState.Downloaded, OtaState.Updating]);
    expect(rig(flash, kv, backendFor(b)).runUntilSteady().version).toBe(2);
  });

  it("after a disconnect mid-download it asks again only for blocks still missing", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const blocks = splitBlocks(b.image, BLOCK);
    const d = device(flash, kv, 1);
    d.ota.offer(b.envelope);
    d.ota.block(0, blocks[0]);
    d.ota.block(1, blocks[1]);
    d.wants.length = 0;
    d.ota.resume(); // reconnected
    expect(d.wants.flat().sort()).toEqual([2, 3, 4]);
    d.ota.offer(b.envelope); // the retained manifest again: same job, nothing restarts
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Downloading });
  });

  it("a signed image that boots but fails its health check is rolled back and never retried", () => {
    const { flash, kv } = factory(1);
    const b = bundle(2);
    const r = rig(flash, kv, backendFor(b), (v) => (v === 2 ? "no-health" : "good"));
    const last = r.runUntilSteady();
    expect(r.boots.map((x) => `${x.end}:v${x.version}`)).toEqual(["restart:v1", "restart:v2", "steady:v1"]);
    expect(last.statuses.find((s) => s.result === OtaResult.RolledBack)).toMatchObject({ version: 2 });
    expect(last.statuses.at(-1)).toMatchObject({ result: OtaResult.PreviouslyRejected, version: 2 });
    const again = r.bootOnce();
    expect(again.version).toBe(1);
    expect(again.wanted).toBe(0);
  });

  it("an image that crashes in a loop is aborted by the bootloader after N boots and never retried", () => {
    const { flash, kv } = factory(1);
    const r = rig(flash, kv, backendFor(bundle(2)), (v) => (v === 2 ? "crash" : "good"));
    const last = r.runUntilSteady();
    expect(r.boots.map((x) => `${x.end}:v${x.version}`)).toEqual(["restart:v1", "crash:v2", "crash:v2", "crash:v2", "steady:v1"]);
    expect(last.statuses.find((s) => s.result === OtaResult.RolledBack)).toMatchObject({ version: 2 });
    expect(r.bootOnce().wanted).toBe(0);
  });

  it("an offer while the running image is still on trial is deferred until it is confirmed", () => {
    const { flash, kv } = factory(1);
    const v2 = bundle(2);
    expect(rig(flash, kv, backendFor(v2), (v) => (v === 1 ? "good" : "crash")).bootOnce().end).toBe("restart"); // staged v2, not booted yet
    const d = device(flash, kv, 2);
    expect(d.ota.state).toBe("trial");
    d.ota.offer(bundle(3).envelope);
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Updating, result: OtaResult.Deferred, version: 2 });
    expect(d.wants).toEqual([]);
    d.ota.noteConnected();
    d.ota.noteTelemetryAcked();
    // Confirmed: v2 success reported, then the parked v3 offer starts downloading.
    expect(d.statuses.some((s) => s.result === OtaResult.Success && s.version === 2)).toBe(true);
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Downloading, version: 3 });
  });

  it("a bootloader without rollback is reported (107) and updates are refused", () => {
    const { flash, kv } = factory(1);
    const d = device(flash, kv, 1, { rollback: false });
    expect(d.statuses[0]).toMatchObject({ result: OtaResult.RollbackUnavailable });
    d.ota.offer(bundle(2).envelope);
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.RollbackUnavailable, version: 2 });
    expect(d.wants).toEqual([]);
  });

  it("unmet preconditions defer the offer (11) and it is retried later", () => {
    const { flash, kv } = factory(1);
    let battery = 10;
    const d = device(flash, kv, 1, { preconditions: () => (battery < 30 ? `battery ${battery}% below 30%` : undefined) });
    d.ota.offer(bundle(2).envelope);
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.Deferred, detail: "battery 10% below 30%" });
    d.clock.advance(60_000);
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.Deferred });
    battery = 80;
    d.clock.advance(60_000);
    expect(d.ota.lastStatus()).toMatchObject({ state: OtaState.Downloading, version: 2 });
  });
});

import { describe, expect, it } from "vitest";
import { OtaResult, OtaState } from "../../device/core/ota/codes";
import { readRecords } from "../../bootloader-spec/reference/record";
import { backendFor, bundle, factory, rig } from "./fixtures";

describe("ota happy path through the reference bootloader", () => {
  it("downloads, stages, trial-boots and confirms v2; then stays on it", () => {
    const { flash, kv } = factory(1);
    const v2 = bundle(2, { securityCounter: 3 });
    const r = rig(flash, kv, backendFor(v2));
    const last = r.runUntilSteady();
    expect(r.boots.map((b) => `${b.end}:v${b.version}`)).toEqual(["restart:v1", "steady:v2"]);
    expect(last.statuses.at(-1)).toMatchObject({ state: OtaState.Idle, result: OtaResult.Success, version: 2, running: 2 });
    const rec = readRecords(flash.open("otadata")).latest!;
    expect(rec.bootSlot).toBe(1);
    expect(rec.states).toEqual([3, 3]);
    // Next boot: the retained v2 manifest is "already running", nothing is downloaded.
    const again = r.bootOnce();
    expect(again.version).toBe(2);
    expect(again.wanted).toBe(0);
    expect(again.statuses.at(-1)).toMatchObject({ result: OtaResult.Success, detail: "already running" });
  });

  it("reports progress with LwM2M states in order", () => {
    const { flash, kv } = factory(1);
    const r = rig(flash, kv, backendFor(bundle(2)));
    const first = r.bootOnce();
    const states = first.statuses.map((s) => s.state);
    expect(states).toEqual([OtaState.Idle, OtaState.Downloading, OtaState.Downloaded, OtaState.Updating]);
    expect(first.statuses[1]).toMatchObject({ received: 0, total: 5 });
  });
});

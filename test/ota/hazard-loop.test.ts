/**
 * The campaign's classifier for ESP-IDF's torn-`ota_state` crash loop (cut-runner.ts
 * isHazardCrashLoop). A loop whose first boot after the hazard lost power (the campaign injects
 * trial power losses) is still that loop, not an unexplained "no steady boot"; a device that only
 * lost power, or that ran another build or got through a boot, is not in it.
 */
import { describe, expect, it } from "vitest";
import type { BootLog } from "../../host-sim/boot/ota-rig";
import { isHazardCrashLoop } from "./cut-runner";

const V = 4;
const boot = (end: BootLog["end"], version = V): BootLog => ({ end, version, slot: 1, statuses: [], wanted: 0, delivered: 0, ticks: 0 });
const loop = (...ends: BootLog["end"][]) => ends.map((e) => boot(e));

describe("isHazardCrashLoop", () => {
  it("a crash loop from the hazard on", () => {
    expect(isHazardCrashLoop([boot("restart", 3), ...loop("crash", "crash", "crash")], 1, V)).toBe(true);
  });

  it("a crash loop whose first boots lost power (campaign device 212 of powercut-flash-after)", () => {
    expect(isHazardCrashLoop([boot("restart", 3), ...loop("power-cut", "crash", "power-cut", "crash", "crash")], 1, V)).toBe(true);
  });

  it("power cuts alone are not a crash loop", () => {
    expect(isHazardCrashLoop(loop("power-cut", "power-cut", "power-cut"), 0, V)).toBe(false);
  });

  it("a steady or restarting boot, or another build, ends it", () => {
    expect(isHazardCrashLoop(loop("crash", "steady"), 0, V)).toBe(false);
    expect(isHazardCrashLoop(loop("crash", "restart", "crash"), 0, V)).toBe(false);
    expect(isHazardCrashLoop([boot("crash"), boot("crash", 3)], 0, V)).toBe(false);
  });

  it("boots before the hazard do not count", () => {
    expect(isHazardCrashLoop([boot("steady", 3), boot("restart", 3), ...loop("crash", "crash")], 2, V)).toBe(true);
  });
});

// When the agent reads its battery: a real Agent (link, MQTT, reporter, monitor) on a virtual
// device whose cell holds a constant true charge (a large cell, a few hours: no visible drain).
// The reading must track the truth whatever the sampling and reporting intervals are: not sag
// into the low-battery alarm when every read falls in a report's TX burst (sample interval =
// report interval), and not read high when reads fall between reports.
import { describe, expect, it } from "vitest";
import { runAtConstantCharge, type ConstantChargeResult } from "../../host-sim/battery/constant-charge";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/battery/sampling-policy.test.ts";
const SEED = testSeed(4242);
/**
 * Reported SoC vs true charge, in % points, once the median and average have settled (after the
 * first hour). The device's curve and the simulated cell agree to within a few mV at the read's
 * load; ±1 LSB of ADC noise and an occasional read beside some other packet's TX stay inside this.
 */
const TOLERANCE_PCT = 3;

const run = (startPermille: number, sampleIntervalMs: number, reportIntervalMs: number): ConstantChargeResult =>
  runAtConstantCharge({ seed: SEED, startPermille, sampleIntervalMs, reportIntervalMs, hours: 8 });

const worst = (xs: number[]) => xs.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);

describe(`battery sampling policy: reported charge vs truth (seed ${SEED})`, () => {
  it("sample interval = report interval (10 min): no low alarm at 28 % or 29.8 % true, reported SoC within ±3 points", () =>
    withSeed(SEED, FILE, () => {
      for (const permille of [280, 298]) {
        const r = run(permille, 600_000, 600_000);
        expect(r.alarms, `true ${r.truePct} %`).toEqual([]);
        expect(r.errors.length).toBeGreaterThanOrEqual(15);
        expect(Math.abs(worst(r.errors)), `errors ${r.errors.join(" ")} at true ${r.truePct} %`).toBeLessThanOrEqual(TOLERANCE_PCT);
      }
    }));

  it("sampling more often than reporting (3 min / 10 min): reported SoC within ±3 points of 29.8 % true", () =>
    withSeed(SEED, FILE, () => {
      const r = run(298, 180_000, 600_000);
      expect(r.alarms, `true ${r.truePct} %`).toEqual([]);
      expect(r.errors.length).toBeGreaterThanOrEqual(15);
      expect(Math.abs(worst(r.errors)), `errors ${r.errors.join(" ")} at true ${r.truePct} %`).toBeLessThanOrEqual(TOLERANCE_PCT);
    }));

  it("the alarm still comes when it should: at 17 % true, both intervals raise low and report within ±3 points", () =>
    withSeed(SEED, FILE, () => {
      for (const [sample, report] of [
        [600_000, 600_000],
        [180_000, 600_000],
      ]) {
        const r = run(170, sample, report);
        expect(r.alarms, `${sample}/${report} ms`).toEqual([expect.stringMatching(/^low@1\d%$/)]);
        // Reports stretch ×4 while low: fewer of them, still some after the first hour.
        expect(r.errors.length).toBeGreaterThanOrEqual(3);
        expect(Math.abs(worst(r.errors)), `${sample}/${report} ms: errors ${r.errors.join(" ")} at true ${r.truePct} %`).toBeLessThanOrEqual(TOLERANCE_PCT);
      }
    }));
});

/**
 * The health rules against simulated truth (scenarios/health-truth.json, a smaller fixed-seed
 * fleet than the full 2,000-device weeks in `npm run bench health`): "replace battery" and
 * "dispatch repeater" each with precision and recall ≥ 95 %, batteries flagged days before they
 * go flat, and the firmware cohort that draws 30 % more current flagged within 24 simulated hours
 * as ONE cohort alert.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { runHealthTruth, type TruthReport } from "../../host-sim/fleet/health-truth";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { parseScenario } from "../../host-sim/fleet/scenario";
import { parseRules } from "../../service/health/config";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/health/truth.test.ts";
const DEVICES = 120;
const DAYS = 5;
const seed = testSeed(1405);
let r: TruthReport;

beforeAll(async () => {
  const scenario = parseScenario(readFileSync("scenarios/health-truth.json", "utf8"), "scenarios/health-truth.json");
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  // 120 devices put 12 in each small group: judge cohorts of 10 or more.
  const rules = parseRules({ cohort: { minDevices: 10 } });
  r = runHealthTruth({ devices: DEVICES, durationMs: DAYS * 86_400_000, seed, scenario, library, sha256: nodeSha256, rules, evaluateEveryMs: 3_600_000 });
}, 300_000);

describe(`health rules against simulated truth (${DEVICES} devices, ${DAYS} days, seed ${seed})`, () => {
  it("replace battery: precision and recall ≥ 95 %, flagged ≥ 3 days (median) before flat", () =>
    withSeed(seed, FILE, () => {
      const b = r.replaceBattery;
      expect(b.truePositives, JSON.stringify(b.examples)).toBeGreaterThanOrEqual(10);
      expect(b.precision, JSON.stringify(b.examples)).toBeGreaterThanOrEqual(0.95);
      expect(b.recall, JSON.stringify(b.examples)).toBeGreaterThanOrEqual(0.95);
      expect(b.medianLeadDays).toBeGreaterThanOrEqual(3);
    }));

  it("a battery is flat when its device stops for lack of charge (the agent's brown-out stop), each at its own time", () =>
    withSeed(seed, FILE, () => {
      // The agent saves and halts at brown-out while the cell lingers at sleep current. Counting to
      // a flat time projected at the end of the run gave every device the same lead time (4.94 d).
      const lead = r.replaceBattery.leadDays;
      expect(lead.length).toBeGreaterThanOrEqual(10);
      expect(new Set(lead.map((d) => d.toFixed(2))).size, JSON.stringify(lead)).toBeGreaterThan(lead.length / 2);
      expect(Math.max(...lead), JSON.stringify(lead)).toBeLessThan(DAYS - 0.1);
    }));

  it("dispatch repeater: precision and recall ≥ 95 % against the radio ground truth", () =>
    withSeed(seed, FILE, () => {
      const d = r.dispatchRepeater;
      expect(d.truePositives, JSON.stringify(d.examples)).toBeGreaterThanOrEqual(10);
      expect(d.precision, JSON.stringify(d.examples)).toBeGreaterThanOrEqual(0.95);
      expect(d.recall, JSON.stringify(d.examples)).toBeGreaterThanOrEqual(0.95);
    }));

  it("the 1.3.0 cohort draining 30 % faster is one cohort alert within 24 h; the healthy majority is not flagged", () =>
    withSeed(seed, FILE, () => {
      const fw = r.cohorts.filter((c) => c.subject === "firmware=1.3.0");
      expect(fw).toHaveLength(1);
      expect(fw[0].openedAfterHours).toBeLessThanOrEqual(24);
      expect(r.cohorts.map((c) => c.subject)).not.toContain("firmware=1.0.0");
      expect(r.cohorts.map((c) => c.subject)).not.toContain("group=home");
      // One alert for the cohort, not one per device: no device of it has a per-device alert for drain.
      expect(r.alertsByRule.cohort).toBeLessThanOrEqual(4);
    }));
});

/*
 * 200 devices (20 per small group) with the default rules: the firmware=1.3.0 cohort's devices
 * used to start at exactly one charge, so their ADC readings sat at one place between two ADC
 * steps and their early drain estimates (a few steps over 6 h) were off together, which a median
 * does not cancel: at 7 h they read 0.050 %/h against 0.070 for the rest and the healthy
 * firmware=1.0.0 majority was flagged as "worse than the rest" until 9 h (seed 1405). A real
 * fleet's cells do not start at one charge (startVariationPermille in the scenario).
 */
describe(`no false cohort alert in the first hours (200 devices, 10 h, seed ${seed})`, () => {
  let small: TruthReport;
  beforeAll(async () => {
    const scenario = parseScenario(readFileSync("scenarios/health-truth.json", "utf8"), "scenarios/health-truth.json");
    const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
    small = runHealthTruth({ devices: 200, durationMs: 10 * 3_600_000, seed, scenario, library, sha256: nodeSha256, evaluateEveryMs: 3_600_000 });
  }, 120_000);

  it("the healthy firmware=1.0.0 majority and the homes are never flagged", () =>
    withSeed(seed, FILE, () => {
      const subjects = small.cohorts.map((c) => c.subject);
      expect(subjects).not.toContain("firmware=1.0.0");
      expect(subjects).not.toContain("group=home");
    }));
});

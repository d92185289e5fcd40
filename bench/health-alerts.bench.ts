/**
 * The health rules against simulated truth on scenarios/health-truth.json (2,000 devices over the
 * scenario's two simulated weeks by default), through `tether sim --report`'s path (the fleet service with
 * proactive support inside the virtual fleet, host-sim/fleet/health-truth.ts): precision, recall
 * and lead time of "replace battery" and "dispatch repeater", and how soon the 1.3.0 cohort
 * (30 % more current) is flagged.
 *
 * The alert figures are counts from one seeded run: deterministic (same seed, same code, same
 * counts), so one run gives them; they are not timings. The timings are the wall time of that
 * run (one round, on a shared machine) and one evaluation of every rule over the whole fleet at
 * the end of the run, 1 warm-up + 5 rounds.
 * HEALTH_BENCH_DEVICES / HEALTH_BENCH_DAYS change the fleet for a quicker look.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { nodeSha256 } from "../device/platform/node/sha256";
import { runHealthTruth } from "../host-sim/fleet/health-truth";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { parseScenario } from "../host-sim/fleet/scenario";

const SCENARIO = "scenarios/health-truth.json";
const EVALUATE_EVERY_MS = 3_600_000;
const ROUNDS = 5;

const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Number(v.toFixed(2));
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
};

async function alertFigures() {
  const scenario = parseScenario(readFileSync(SCENARIO, "utf8"), SCENARIO);
  const devices = Number(process.env.HEALTH_BENCH_DEVICES ?? scenario.devices ?? 2000);
  const days = Number(process.env.HEALTH_BENCH_DAYS ?? (scenario.durationMs ?? 14 * 86_400_000) / 86_400_000);
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const loadBefore = os.loadavg()[0];
  const evaluateMs: number[] = [];
  const t0 = performance.now();
  const r = runHealthTruth({
    devices, durationMs: days * 86_400_000, seed: scenario.seed ?? 1405, scenario, library, sha256: nodeSha256, evaluateEveryMs: EVALUATE_EVERY_MS,
    atEnd: (p) => {
      for (let i = 0; i <= ROUNDS; i++) {
        const t = performance.now();
        p.evaluate();
        if (i > 0) evaluateMs.push(performance.now() - t); // round 0 warms up
      }
    },
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const fw = r.cohorts.filter((c) => c.subject === "firmware=1.3.0");
  const pick = (s: typeof r.dispatchRepeater) => ({ precision: s.precision, recall: s.recall, truePositives: s.truePositives, falsePositives: s.falsePositives, falseNegatives: s.falseNegatives });
  return {
    parameters: { scenario: SCENARIO, devices, simulatedDays: days, seed: scenario.seed, rules: "defaults (service/health/config.ts)", evaluateEveryMs: EVALUATE_EVERY_MS, timingRounds: ROUNDS, warmupRounds: 1 },
    machine: { cpus: os.cpus().length, node: process.version, loadAverageBefore: Number(loadBefore.toFixed(2)), loadAverageAfter: Number(os.loadavg()[0].toFixed(2)), note: "2 cores shared with other engineers' jobs: timings are loaded-machine figures" },
    deterministic: "the alert figures below are counts from one seeded run (same seed and code, same counts), not timings",
    replaceBattery: { ...pick(r.replaceBattery), medianLeadDays: r.replaceBattery.medianLeadDays, minLeadDays: r.replaceBattery.leadDays.length ? Math.min(...r.replaceBattery.leadDays) : null },
    dispatchRepeater: pick(r.dispatchRepeater),
    cohort: { firmware130Alerts: fw.length, firmware130FlaggedAfterHours: fw[0]?.openedAfterHours ?? null, allCohortAlerts: r.cohorts },
    alertsByRule: r.alertsByRule,
    telemetry: { delivered: r.summary.telemetry.delivered, lost: r.summary.telemetry.lost },
    timings: {
      runWallSeconds: Number(wallSeconds.toFixed(1)),
      runRounds: 1,
      evaluateAllRulesMs: spread(evaluateMs),
    },
  };
}

export default alertFigures;

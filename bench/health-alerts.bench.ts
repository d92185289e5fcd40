/**
 * The health rules against simulated truth on scenarios/health-truth.json (2,000 devices, a
 * simulated week by default): precision, recall and lead time of "replace battery" and
 * "dispatch repeater", and how soon the 1.3.0 cohort (30 % more current) is flagged.
 * HEALTH_BENCH_DEVICES / HEALTH_BENCH_DAYS change the fleet for a quicker look.
 */
import { readFileSync } from "node:fs";
import { nodeSha256 } from "../device/platform/node/sha256";
import { runHealthTruth } from "../host-sim/fleet/health-truth";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { parseScenario } from "../host-sim/fleet/scenario";

async function alertFigures() {
  const devices = Number(process.env.HEALTH_BENCH_DEVICES ?? 2000);
  const days = Number(process.env.HEALTH_BENCH_DAYS ?? 7);
  const scenario = parseScenario(readFileSync("scenarios/health-truth.json", "utf8"), "scenarios/health-truth.json");
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const t0 = performance.now();
  const r = runHealthTruth({ devices, durationMs: days * 86_400_000, seed: scenario.seed ?? 1405, scenario, library, sha256: nodeSha256, evaluateEveryMs: 3_600_000 });
  const fw = r.cohorts.filter((c) => c.subject === "firmware=1.3.0");
  const pick = (s: typeof r.dispatchRepeater) => ({ precision: s.precision, recall: s.recall, truePositives: s.truePositives, falsePositives: s.falsePositives, falseNegatives: s.falseNegatives });
  return {
    scenario: "scenarios/health-truth.json",
    devices,
    simulatedDays: days,
    seed: scenario.seed,
    wallSeconds: (performance.now() - t0) / 1000,
    replaceBattery: { ...pick(r.replaceBattery), medianLeadDays: r.replaceBattery.medianLeadDays, minLeadDays: r.replaceBattery.leadDays.length ? Math.min(...r.replaceBattery.leadDays) : null },
    dispatchRepeater: pick(r.dispatchRepeater),
    cohort: { firmware130Alerts: fw.length, firmware130FlaggedAfterHours: fw[0]?.openedAfterHours ?? null, allCohortAlerts: r.cohorts },
    alertsByRule: r.alertsByRule,
    telemetryLost: r.summary.telemetry.lost,
  };
}

export default alertFigures;

/**
 * The rollout-bad rehearsal's figures (a scenario run, not a timed micro-benchmark):
 * scenarios/rollout-bad.json with the fleet service inside the simulation. Records which rule
 * halted 1.3.0, after how long, how many devices ever ran 1.3.0 (goal ≤ 2 % of the fleet),
 * whether 1.3.1 reached every eligible device (low-battery ones only after their charger, the away
 * group only after it returned), and the wall and CPU time of the run. One round: the run is
 * deterministic (fixed seed), so repeating it would give the same figures and only a new wall time.
 *
 *   npm run bench -- rollout-bad                        the scenario's 10,000 devices
 *   ROLLOUT_BAD_DEVICES=1000 npm run bench -- rollout-bad   a smaller fleet (recorded in the file)
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { nodeSha256 } from "../device/platform/node/sha256";
import { versionNumber } from "../device/core/ota/version";
import { VirtualFleet } from "../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { validateScenario } from "../host-sim/fleet/scenario";
import { runFleetWithService } from "../host-sim/fleet/service-run";

const FILE = "scenarios/rollout-bad.json";

export default async () => {
  const scenario = validateScenario(JSON.parse(readFileSync(FILE, "utf8")));
  const devices = Number(process.env.ROLLOUT_BAD_DEVICES ?? scenario.devices);
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const fleet = new VirtualFleet({ devices, durationMs: scenario.durationMs!, seed: scenario.seed!, scenario, library, sha256: nodeSha256, wallNow: () => performance.now() });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { summary, rollouts } = runFleetWithService(fleet);
  const cpu = process.cpuUsage(cpu0);
  const [bad, good] = rollouts;
  const fixed = versionNumber("1.3.1");
  const live = fleet.devices.filter((d) => d.state !== "dead" && d.state !== "bricked");
  const fixAt = scenario.rollouts[1]?.atMs ?? 0;
  /** Per group: devices, how many run 1.3.1 at the end, and when they first booted it (simulated ms). */
  const firstBoots = (group: string) => {
    const ds = fleet.devices.filter((d) => d.group.name === group);
    const t = ds.map((d) => fleet.firmware.firstBoot("1.3.1", d.index)).filter((x): x is number => x !== undefined);
    return {
      devices: ds.length, onFixedVersion: ds.filter((d) => d.version === fixed).length, chargerAtMs: ds[0]?.group.charger?.atMs ?? null,
      firstBootOfFixMs: { min: t.length ? Math.min(...t) : null, max: t.length ? Math.max(...t) : null }, fixRolloutAtMs: fixAt,
    };
  };
  return {
    parameters: { scenario: FILE, devices, scenarioDevices: scenario.devices, simulated: scenario.durationMs! + scenario.drainMs, seed: scenario.seed, rollouts: scenario.rollouts.map((r) => ({ at: r.atMs, ...r.request })) },
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    bad: {
      bundle: bad.bundle, status: bad.status, haltRule: bad.haltRule, haltAfterMs: bad.haltAfterMs, haltDetail: bad.haltDetail ?? null, offered: bad.offered,
      devicesRan: bad.devicesRan, devicesRanPctOfFleet: Math.round(((bad.devicesRan ?? 0) * 10_000) / devices) / 100, goalPct: 2,
      crashedDevices: fleet.devices.filter((d) => d.crashes > 0).length,
    },
    fixed: {
      bundle: good.bundle, status: good.status, haltRule: good.haltRule ?? null, haltDetail: good.haltDetail ?? null, counts: good.counts,
      liveDevices: live.length, onFixedVersion: live.filter((d) => d.version === fixed).length,
      deadOrBricked: devices - live.length,
      byGroup: Object.fromEntries([...new Set(fleet.devices.map((d) => d.group.name))].map((g) => [g, firstBoots(g)])),
    },
    rounds: 1,
    note: "one deterministic run (fixed seed): a repeat gives the same figures and only another wall time",
    checksFailed: summary.checks.filter((c) => !c.ok).map((c) => c.name ?? JSON.stringify(c)),
    wallSeconds: Math.round(performance.now() - t0) / 1000,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
  };
};

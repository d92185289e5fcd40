/**
 * The seeded random power-cut campaign (test/ota/campaign.ts) at full size, per boot model:
 * 5,000 devices × 4 releases = 20,000 updates each, with good, crashing and unhealthy releases,
 * power cut at random flash operations (prefix, bit-subset and stuck-bit tears), power lost
 * during trial boots, and 150 s broker outages during trials. Counts, not timings: the same
 * seed gives the same counts. `npm run bench -- powercut` writes bench/results/powercut.json.
 * The fleet's one retry of each 105 cause 6 (with the retry marker) is on by default and counted
 * apart (fleetRetry* counts; POWERCUT_FLEET_RETRY=0 turns it off); the run with it is kept in
 * bench/results/powercut-fleet-retry.json (BENCH_OUT=powercut-fleet-retry npm run bench -- powercut).
 */
import { runCampaign, type CampaignOptions } from "../test/ota/campaign";
import { BOOT_MODELS } from "../host-sim/boot/boot-models";
import { execSync } from "node:child_process";
import os from "node:os";

const PARAMS = {
  seed: 20261126,
  devices: Number(process.env.POWERCUT_DEVICES ?? 5000),
  releasesPerDevice: 4,
  cutPerOpPermille: 30,
  trialLossPermille: 300,
  outagePermille: 200,
  /**
   * NVS on flash (every entry write tearable; default), atomic entries ("memory", faster), or on
   * flash written as Moddable's preference module writes it on the board ("preference": erase, then set).
   */
  nvs: (["memory", "preference"].includes(process.env.POWERCUT_NVS ?? "") ? process.env.POWERCUT_NVS : "flash") as "memory" | "flash" | "preference",
  /** The fleet re-offers each 105 cause 6 once with the retry marker (as service/rollouts does). */
  fleetRetry: process.env.POWERCUT_FLEET_RETRY !== "0",
};

function commit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

export default async () => {
  const perModel: Record<string, unknown> = {};
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 10) / 10);
  for (const model of BOOT_MODELS) {
    const t0 = performance.now();
    const counts = runCampaign({ ...PARAMS, model } satisfies CampaignOptions);
    perModel[model] = { ...counts, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    console.log(`${model}: ${JSON.stringify(counts)}`);
  }
  return {
    parameters: { ...PARAMS, commit: commit(), replay: "npm run bench -- powercut (POWERCUT_DEVICES=n for a smaller run, POWERCUT_NVS=memory for atomic NVS entries, POWERCUT_NVS=preference for erase-then-set as on the board, POWERCUT_FLEET_RETRY=0 without the fleet's retry; BENCH_OUT=powercut-fleet-retry keeps powercut.json)" },
    runs: "one: every count is deterministic for the seed (same seed, same counts); `seconds` is that one run's wall time on a shared machine, not a benchmark figure",
    machine: { cpus: os.cpus().length, node: process.version, loadAverageAtStart: loadAtStart },
    models: perModel,
  };
};

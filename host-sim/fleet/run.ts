/**
 * Running a virtual fleet from Node: builds the firmware the scenario names, then runs the
 * fleet in this thread or split across K worker threads (--shards K; each worker builds its
 * own firmware modules and runs devices i ≡ k mod K on its own virtual broker), and merges
 * the shard summaries. Shard workers start from this same module: in the bundled CLI
 * (dist/tether.js) `import.meta.url` is the bundle, and the check at the bottom starts the
 * shard when loaded as a worker.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { runsInXs, runVirtualFleet, VirtualFleet, type FleetProgress, type VirtualFleetOptions } from "./engine";
import { prepareXsRunner } from "../xs/prepare";
import { buildFirmwareLibrary, firmwareRequests } from "./images";
import { mergeSummaries, type FleetSummary } from "./metrics";
import type { Scenario } from "./scenario";
import { TraceHash } from "./trace";
import { realtimeWorkerMain, runRealtimeSimulation, type RealtimeOptions } from "./run-realtime";

export interface SimOptions {
  devices: number;
  durationMs: number;
  seed: number;
  scenario: Scenario;
  shards: number;
  /** How many devices run inside XS (--xs N); the rest run as modules in this process. */
  xsDevices?: number;
  /** Run only shard `index` of `count` (--shard i/K, for spreading over machines). */
  onlyShard?: { index: number; count: number };
  progressEveryMs?: number;
}

export { firmwareRequests };

async function runShard(o: SimOptions, shard: { index: number; count: number }, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  const library = await buildFirmwareLibrary(firmwareRequests(o.scenario), nodeSha256);
  if (o.scenario.rollouts.length > 0) {
    // The fleet service sees the whole fleet: rollouts run in one shard.
    if (shard.count > 1) throw new Error("a scenario with rollouts runs in one shard (the fleet service sees the whole fleet): drop --shards");
    if ((o.xsDevices ?? 0) > 0) throw new Error("a scenario with rollouts runs every device on Node: drop --xs");
    const { runFleetWithService } = await import("./service-run");
    const fleet = new VirtualFleet({ devices: o.devices, durationMs: o.durationMs, seed: o.seed, scenario: o.scenario, library, sha256: nodeSha256, onProgress, progressEveryMs: o.progressEveryMs, wallNow: () => performance.now() });
    const { summary, rollouts } = runFleetWithService(fleet);
    return { ...summary, rollouts } as FleetSummary;
  }
  const xsDevices = o.xsDevices ?? 0;
  const xs = xsDevices > 0 ? await prepareXsRunner() : undefined;
  try {
    const summary = runFleet(o, shard, library, xs && { runner: xs.runner, devices: xsDevices }, onProgress);
    if (xs) summary.xs = { devices: countXsDevices(o.devices, xsDevices, shard), ...xs.runner.cost };
    return summary;
  } finally {
    xs?.close();
  }
}

/** How many of shard `shard`'s devices run inside XS. */
function countXsDevices(devices: number, xsDevices: number, shard: { index: number; count: number }): number {
  let n = 0;
  for (let i = shard.index; i < devices; i += shard.count) if (runsInXs(i, xsDevices, devices)) n++;
  return n;
}

function runFleet(
  o: SimOptions,
  shard: { index: number; count: number },
  library: Awaited<ReturnType<typeof buildFirmwareLibrary>>,
  xs: VirtualFleetOptions["xs"],
  onProgress?: (p: FleetProgress) => void,
): FleetSummary {
  return runVirtualFleet({
    xs,
    devices: o.devices,
    durationMs: o.durationMs,
    seed: o.seed,
    scenario: o.scenario,
    library,
    sha256: nodeSha256,
    shard,
    onProgress,
    progressEveryMs: o.progressEveryMs,
    wallNow: () => performance.now(),
  });
}

/** A real-time fleet against real brokers (--broker embedded|mqtt://...). */
export function runRealtime(o: Omit<RealtimeOptions, "shards"> & { shards: number }, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  return runRealtimeSimulation(o, new URL(import.meta.url), onProgress);
}

/** Runs the simulation; progress is reported per shard (merged by the caller's callback). */
export async function runSimulation(o: SimOptions, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  if (o.onlyShard) return runShard(o, o.onlyShard, onProgress);
  if (o.shards <= 1) return runShard(o, { index: 0, count: 1 }, onProgress);
  const latest: FleetProgress[] = [];
  const parts = await Promise.all(
    Array.from({ length: o.shards }, (_, index) => {
      return new Promise<FleetSummary>((resolve, reject) => {
        const w = new Worker(new URL(import.meta.url), { workerData: { tetherFleetShard: { options: o, index } } });
        w.on("message", (m: { progress?: FleetProgress; summary?: FleetSummary }) => {
          if (m.progress) {
            latest[index] = m.progress;
            if (onProgress && latest.filter(Boolean).length === o.shards) {
              const sum = (f: (p: FleetProgress) => number) => latest.reduce((a, p) => a + f(p), 0);
              onProgress({
                simMs: Math.min(...latest.map((p) => p.simMs)),
                endMs: latest[0].endMs,
                devices: sum((p) => p.devices),
                online: sum((p) => p.online),
                published: sum((p) => p.published),
                delivered: sum((p) => p.delivered),
              });
            }
          }
          if (m.summary) resolve(m.summary);
        });
        w.on("error", reject);
        w.on("exit", (code) => code !== 0 && reject(new Error(`shard ${index} exited with code ${code}`)));
      });
    }),
  );
  const trace = new TraceHash();
  for (const p of parts) trace.combine(p.traceHash);
  return mergeSummaries(parts, trace.hex());
}

// ---------------------------------------------------------------- shard worker entries
const job = (isMainThread ? undefined : (workerData as { tetherFleetShard?: { options: SimOptions; index: number } } | undefined)?.tetherFleetShard);
if (job !== undefined && parentPort) {
  const port = parentPort;
  const { options, index } = job;
  runShard(options, { index, count: options.shards }, (progress) => port.postMessage({ progress }))
    .then((summary) => port.postMessage({ summary }))
    .catch((e) => {
      throw e;
    });
}
const realtimeJob = isMainThread ? undefined : (workerData as { tetherRealtimeShard?: { options: RealtimeOptions; index: number } } | undefined)?.tetherRealtimeShard;
if (realtimeJob !== undefined && parentPort) {
  void realtimeWorkerMain(parentPort, realtimeJob.options, realtimeJob.index);
}

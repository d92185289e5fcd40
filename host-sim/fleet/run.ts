/**
 * Running a virtual fleet from Node: builds the firmware the scenario names, then runs the
 * fleet in this thread or split across K worker threads (--shards K), and merges the shard
 * summaries. With shards, the firmware is built and signed once here while the workers start;
 * each worker (shard-worker.ts, its own bundle dist/fleet-shard.js next to the CLI's) then
 * evaluates the built code and runs devices i ≡ k mod K on its own virtual broker.
 */
import { Worker } from "node:worker_threads";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet, type FleetProgress } from "./engine";
import { buildFirmwareImages, firmwareRequests, loadFirmwareLibrary, type BuiltFirmware } from "./images";
import { mergeSummaries, type FleetSummary } from "./metrics";
import type { Scenario } from "./scenario";
import { markPhase, phasesEnabled } from "./phase-marks";
import { runFleetShard, type ShardResult } from "./shard";
import type { FromShard, ToShard, VirtualShardJob } from "./shard-worker";
import { TraceHash } from "./trace";
import { runRealtimeSimulation, type RealtimeOptions } from "./run-realtime";

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

const ROLLOUTS_IN_ONE_SHARD = "a scenario with rollouts runs in one shard (the fleet service sees the whole fleet): drop --shards";

/** The shard workers' bundle, written next to the CLI bundle by scripts/build.mjs (buildHost). */
const SHARD_WORKER_BUNDLE = "fleet-shard.js";
const shardWorkerUrl = () => new URL(`./${SHARD_WORKER_BUNDLE}`, import.meta.url);

/** Runs one shard (or the whole fleet) in this thread. */
async function runHere(o: SimOptions, shard: { index: number; count: number }, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  const built = await buildFirmwareImages(firmwareRequests(o.scenario), nodeSha256);
  markPhase("firmware built");
  const library = await loadFirmwareLibrary(built);
  markPhase("firmware loaded 0");
  if (o.scenario.rollouts.length === 0) return (await runFleetShard(o, shard, library, onProgress)).summary;
  // The fleet service sees the whole fleet: rollouts run in one shard.
  if (shard.count > 1) throw new Error(ROLLOUTS_IN_ONE_SHARD);
  if ((o.xsDevices ?? 0) > 0) throw new Error("a scenario with rollouts runs every device on Node: drop --xs");
  const { runFleetWithService } = await import("./service-run");
  const fleet = new VirtualFleet({ devices: o.devices, durationMs: o.durationMs, seed: o.seed, scenario: o.scenario, library, sha256: nodeSha256, onProgress, progressEveryMs: o.progressEveryMs, wallNow: () => performance.now() });
  const { summary, rollouts } = runFleetWithService(fleet);
  return { ...summary, rollouts } as FleetSummary;
}

/** A real-time fleet against real brokers (--broker embedded|mqtt://...). */
export function runRealtime(o: Omit<RealtimeOptions, "shards"> & { shards: number }, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  return runRealtimeSimulation(o, shardWorkerUrl(), onProgress);
}

/** Runs the simulation; progress is reported per shard (merged by the caller's callback). */
export async function runSimulation(o: SimOptions, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  if (phasesEnabled()) {
    markPhase("process start", performance.timeOrigin);
    markPhase("simulation start");
    process.once("exit", () => markPhase("process exit"));
  }
  if (o.onlyShard) return runHere(o, o.onlyShard, onProgress);
  if (o.shards <= 1) return runHere(o, { index: 0, count: 1 }, onProgress);
  if (o.scenario.rollouts.length > 0) throw new Error(ROLLOUTS_IN_ONE_SHARD);
  const latest: FleetProgress[] = [];
  const workers = Array.from({ length: o.shards }, (_, index) => {
    const job: VirtualShardJob = { options: o, index };
    markPhase(`worker created ${index}`);
    const worker = new Worker(shardWorkerUrl(), { workerData: { tetherFleetShard: job } });
    if (phasesEnabled()) worker.once("exit", () => markPhase(`worker exit ${index}`));
    return worker;
  });
  const parts = awaitShards(workers, (index, m: FromShard) => {
    if (!m.progress) return;
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
  });
  // The workers start (load their bundle) while this thread builds and signs the firmware once.
  let firmware: BuiltFirmware[];
  try {
    firmware = await buildFirmwareImages(firmwareRequests(o.scenario), nodeSha256);
  } catch (e) {
    // Not awaitShards' case: the workers are alive, waiting for the firmware, and would keep the
    // process up forever (tried: `tether sim --shards 2` hung after printing the build error).
    parts.catch(() => {});
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
  markPhase("firmware built");
  for (const w of workers) w.postMessage({ firmware } satisfies ToShard);
  const results = await parts;
  markPhase("results in");
  const trace = new TraceHash();
  for (const r of results) trace.combine(r.summary.traceHash);
  return mergeSummaries(
    results.map((r) => r.summary),
    trace.hex(),
    results.map((r) => r.facts),
  );
}

/**
 * Every worker's `result` message, in worker order. The first worker to fail (an error, an exit
 * without a result) fails the whole run at once and terminates the others: a broken shard must
 * not leave its siblings running a long simulation nobody will read.
 */
export function awaitShards<M extends { result?: unknown }>(workers: readonly Worker[], onMessage: (index: number, m: M) => void): Promise<NonNullable<M["result"]>[]> {
  type R = NonNullable<M["result"]>;
  let failed = false;
  const fail = (e: unknown) => {
    if (!failed) {
      failed = true;
      for (const w of workers) void w.terminate();
    }
    throw e;
  };
  return Promise.all(
    workers.map(
      (w, index) =>
        new Promise<R>((resolve, reject) => {
          let done = false;
          w.on("message", (m: M) => {
            onMessage(index, m);
            if (m.result !== undefined) {
              done = true;
              resolve(m.result as R);
            }
          });
          w.on("error", reject);
          w.on("exit", (code) => {
            if (!done) reject(new Error(`shard ${index} exited with code ${code} before its result`));
          });
        }).catch(fail),
    ),
  );
}

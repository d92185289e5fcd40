/**
 * Orchestrates a real-time fleet (realtime.ts): backend first, then the devices (here or in K
 * worker threads, which start from shard-worker.ts like the virtual shards and get the firmware
 * built once here), progress once a second,
 * then the books close, the backend gets a drain period to receive what is still queued, and
 * the summary compares what the agents made with what the backend saw.
 */
import { Worker } from "node:worker_threads";
import { nodeSha256 } from "../../device/platform/node/sha256";
import type { FleetProgress } from "./engine";
import { buildFirmwareImages, buildFirmwareLibrary, firmwareRequests, loadFirmwareLibrary, type BuiltFirmware } from "./images";
import type { Log } from "../../device/ports";
import type { Check, FleetSummary } from "./metrics";
import { missing, peakPerSecond, RealtimeBackend, RealtimeDevices, type RealtimeDeviceStats } from "./realtime";
import type { SimOptions } from "./run";

/**
 * Real time: never wait longer than this for stragglers after the run. After a broker node
 * dies, JetStream can take tens of seconds to hand its QoS 1 backlog to the backend.
 */
export const MAX_REALTIME_DRAIN_MS = 60_000;

export interface RealtimeOptions extends SimOptions {
  brokers: string[];
  /** Called once the fleet runs (the NATS test kills a node from here). */
  onRunning?: () => void;
  /** Each device's log, for devices run in this thread (shards: 1); worker shards stay silent. */
  deviceLog?: (deviceId: string) => Log;
}

/** Plain-data form of device stats for postMessage. */
type WireStats = Omit<RealtimeDeviceStats, "made"> & { made: [number, number[]][] };

interface Shard {
  online(): number;
  /** Local shards only: what the agents made so far (lets the drain end early). */
  made?(): Map<number, number[]>;
  closeBooks(): void;
  stop(): Promise<RealtimeDeviceStats>;
}

async function localShard(o: RealtimeOptions, shard: { index: number; count: number }): Promise<Shard> {
  const library = await buildFirmwareLibrary(firmwareRequests(o.scenario), nodeSha256);
  const devs = new RealtimeDevices({ devices: o.devices, seed: o.seed, scenario: o.scenario, brokers: o.brokers, library, shard, deviceLog: o.deviceLog });
  devs.start();
  return {
    online: () => devs.online,
    made: () => devs.stats.made,
    closeBooks: () => devs.closeBooks(),
    stop: async () => {
      await devs.stop();
      return devs.stats;
    },
  };
}

function workerShard(o: RealtimeOptions, index: number, url: URL, firmware: BuiltFirmware[]): Promise<Shard> {
  return new Promise((resolve, reject) => {
    const { onRunning: _skip, deviceLog: _local, ...options } = o;
    const w = new Worker(url, { workerData: { tetherRealtimeShard: { options, index, firmware } } });
    let online = 0;
    let finish: ((s: RealtimeDeviceStats) => void) | undefined;
    w.on("message", (m: { started?: true; online?: number; stats?: WireStats }) => {
      if (m.online !== undefined) online = m.online;
      if (m.started)
        resolve({
          online: () => online,
          closeBooks: () => w.postMessage("close-books"),
          stop: () =>
            new Promise((r) => {
              finish = r;
              w.postMessage("stop");
            }),
        });
      if (m.stats) {
        finish?.({ ...m.stats, made: new Map(m.stats.made) });
        void w.terminate();
      }
    });
    w.on("error", reject);
  });
}

/** Worker side: runs one shard's devices until told to stop. */
export async function realtimeWorkerMain(port: import("node:worker_threads").MessagePort, o: RealtimeOptions, index: number, firmware: BuiltFirmware[]): Promise<void> {
  const library = await loadFirmwareLibrary(firmware);
  const devs = new RealtimeDevices({ devices: o.devices, seed: o.seed, scenario: o.scenario, brokers: o.brokers, library, shard: { index, count: o.shards } });
  devs.start();
  const tick = setInterval(() => port.postMessage({ online: devs.online }), 500);
  port.on("message", async (m: string) => {
    if (m === "close-books") devs.closeBooks();
    if (m === "stop") {
      clearInterval(tick);
      await devs.stop();
      const stats: WireStats = { ...devs.stats, made: [...devs.stats.made] };
      port.postMessage({ stats });
    }
  });
  port.postMessage({ started: true });
}

export async function runRealtimeSimulation(o: RealtimeOptions, workerUrl: URL, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  const backend = new RealtimeBackend(o.brokers);
  await backend.start();
  const started = Date.now();
  const count = o.onlyShard ? o.onlyShard.count : o.shards;
  const indices = o.onlyShard ? [o.onlyShard.index] : Array.from({ length: count }, (_, i) => i);
  const inWorkers = count > 1 && !o.onlyShard;
  // Worker shards get the firmware built (and signed) once here.
  const firmware = inWorkers ? await buildFirmwareImages(firmwareRequests(o.scenario), nodeSha256) : [];
  const shards = await Promise.all(indices.map((i) => (inWorkers ? workerShard(o, i, workerUrl, firmware) : localShard(o, { index: i, count }))));
  o.onRunning?.();
  const endMs = o.durationMs;
  const progress = () =>
    onProgress?.({
      simMs: Date.now() - started,
      endMs,
      devices: o.devices,
      online: shards.reduce((a, s) => a + s.online(), 0),
      published: 0,
      delivered: backend.delivered,
    });
  const ticker = setInterval(progress, 250);
  await new Promise((r) => setTimeout(r, o.durationMs));
  for (const s of shards) s.closeBooks();
  // Drain: the devices keep running (and retrying) while the backend receives what they made;
  // local shards end it as soon as nothing is missing.
  const drainStart = Date.now();
  const drainUntil = drainStart + Math.min(o.scenario.drainMs, MAX_REALTIME_DRAIN_MS);
  while (Date.now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 250));
    if (shards.every((s) => s.made !== undefined) && shards.every((s) => missing(s.made!(), backend.seen).lost === 0)) break;
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  const stats = await Promise.all(shards.map((s) => s.stop()));
  // Late arrivals after stop (in flight on sockets) get a moment.
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(ticker);
  progress();
  backend.stop();
  const made = new Map<number, number[]>();
  for (const st of stats) for (const [k, v] of st.made) made.set(k, v);
  const m = missing(made, backend.seen);
  const first = stats.flatMap((s) => s.firstConnects).sort((a, b) => a - b);
  const reconnects = stats.flatMap((s) => s.reconnects);
  const queueDropped = stats.reduce((a, s) => a + s.queueDropped, 0);
  const span = first.length > 1 ? (first[first.length - 1] - first[0]) / 1000 : 0;
  const wallSeconds = (Date.now() - started) / 1000;
  const checks: Check[] = [
    { name: "no acknowledged telemetry lost", ok: m.lost === 0, detail: m.lost === 0 ? `${m.published - m.lost}/${m.published} delivered` : `${m.lost} lost, e.g. ${m.examples.join(", ")}` },
    { name: "every device connected", ok: first.length === made.size, detail: `${first.length}/${made.size}` },
  ];
  return {
    devices: made.size,
    seed: o.seed,
    broker: o.brokers.join(","),
    shards: count,
    simulatedSeconds: o.durationMs / 1000,
    wallSeconds,
    deviceHoursPerWallSecond: (made.size * o.durationMs) / 3_600_000 / wallSeconds,
    telemetry: { published: m.published, delivered: m.published - m.lost, lost: m.lost, duplicates: backend.duplicates, queueDropped, stranded: 0 },
    reconnects: reconnects.length,
    peakReconnectsPerSecond: peakPerSecond(reconnects),
    ota: { offered: 0, updated: 0, rolledBack: 0, deferred: 0, failed: 0, bricked: 0 },
    battery: { alerts: 0, alertsSeenByBackend: 0, crossedThreshold: 0, dead: 0 },
    faults: { powerCuts: 0, crashes: 0, watchdogResets: 0, restarts: 0, linkFlaps: 0, brokerOutages: 0, brokerRestarts: 0 },
    boots: made.size,
    onlineAtEnd: 0,
    // Real time is not reproducible: the hash only identifies the configuration.
    traceHash: "realtime",
    traceEvents: 0,
    checks,
    realtime: {
      connectSpanSeconds: span,
      connectsPerSecond: span > 0 ? first.length / span : first.length,
      peakConnectsPerSecond: peakPerSecond(first),
      backendConnects: backend.connects,
      sessionPresentReconnects: stats.reduce((a, s) => a + s.sessionPresent, 0),
      drainSeconds,
    },
  };
}

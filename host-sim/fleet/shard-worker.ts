/**
 * Entry of the shard worker threads (built to dist/fleet-shard.js next to the CLI bundle):
 * only the fleet engine, the device code and the real-time devices, so a worker does not load
 * the CLI's brokers, mail and database modules. A virtual shard waits for the firmware the
 * main thread built (one message), evaluates it here and runs its devices; a real-time shard
 * gets the firmware in its workerData.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { FleetProgress } from "./engine";
import { loadFirmwareLibrary, type BuiltFirmware } from "./images";
import { realtimeWorkerMain, type RealtimeOptions } from "./run-realtime";
import { markPhase } from "./phase-marks";
import { runFleetShard, type ShardOptions, type ShardResult } from "./shard";

/** What run.ts posts to and receives from a virtual shard worker. */
export interface VirtualShardJob {
  options: ShardOptions & { shards: number };
  index: number;
}
export type ToShard = { firmware: BuiltFirmware[] };
export type FromShard = { progress?: FleetProgress; result?: ShardResult };

const data = workerData as { tetherFleetShard?: VirtualShardJob; tetherRealtimeShard?: { options: RealtimeOptions; index: number; firmware: BuiltFirmware[] } } | undefined;
const port = parentPort;
if (port && data?.tetherFleetShard) {
  const { options, index } = data.tetherFleetShard;
  markPhase(`worker ready ${index}`);
  port.once("message", (m: ToShard) => {
    markPhase(`firmware in ${index}`);
    loadFirmwareLibrary(m.firmware)
      .then((library) => (markPhase(`firmware loaded ${index}`), library))
      .then((library) => runFleetShard(options, { index, count: options.shards }, library, (progress) => port.postMessage({ progress } satisfies FromShard)))
      .then((result) => port.postMessage({ result } satisfies FromShard))
      .catch((e) => {
        throw e;
      });
  });
}
if (port && data?.tetherRealtimeShard) {
  const { options, index, firmware } = data.tetherRealtimeShard;
  void realtimeWorkerMain(port, options, index, firmware);
}

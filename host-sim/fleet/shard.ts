/**
 * One shard of a virtual fleet in this thread: devices i ≡ index (mod count) on their own
 * virtual broker, some of them inside XS (--xs N). Shared by run.ts (one thread, --shard i/K)
 * and the worker entry shard-worker.ts (--shards K); it never loads the fleet service.
 */
import { nodeSha256 } from "../../device/platform/node/sha256";
import { prepareXsRunner } from "../xs/prepare";
import { runsInXs, VirtualFleet, type FleetProgress } from "./engine";
import type { FirmwareLibrary } from "./library";
import type { CheckFacts, FleetSummary } from "./metrics";
import { markPhase } from "./phase-marks";
import type { Scenario } from "./scenario";

export interface ShardOptions {
  devices: number;
  durationMs: number;
  seed: number;
  scenario: Scenario;
  /** How many devices of the whole fleet run inside XS; spread evenly, whatever the shard. */
  xsDevices?: number;
  progressEveryMs?: number;
}

/** The shard's summary, and the facts its checks came from (the merge recomputes the checks from them). */
export interface ShardResult {
  summary: FleetSummary;
  facts: CheckFacts;
}

export async function runFleetShard(
  o: ShardOptions,
  shard: { index: number; count: number },
  library: FirmwareLibrary,
  onProgress?: (p: FleetProgress) => void,
): Promise<ShardResult> {
  const xsDevices = o.xsDevices ?? 0;
  const xs = xsDevices > 0 ? await prepareXsRunner() : undefined;
  try {
    const fleet = new VirtualFleet({
      xs: xs && { runner: xs.runner, devices: xsDevices },
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
    markPhase(`devices built ${shard.index}`);
    const summary = fleet.run();
    markPhase(`fleet run done ${shard.index}`);
    if (xs) summary.xs = { devices: countXsDevices(o.devices, xsDevices, shard), ...xs.runner.cost };
    return { summary, facts: fleet.checkFacts! };
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

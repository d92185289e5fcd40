/**
 * Where a `--broker virtual` fleet run allocates: V8's sampling heap profiler with collected
 * objects kept (allocation volume, not what survives), summed per function. Not a bench.
 *
 *   node scripts/run-ts.mjs bench/lib/alloc-profile-fleet.ts [devices] [hours] [top]
 */
import { Session } from "node:inspector";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { validateScenario } from "../../host-sim/fleet/scenario";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const [devices = 300, hours = 2, top = 30] = process.argv.slice(2).map(Number);
const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" } }] });
const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
const session = new Session();
session.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
await post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
const fleet = new VirtualFleet({ devices, durationMs: hours * 3_600_000, seed: 1, scenario, library, sha256: nodeSha256 });
const s = fleet.run();
const { profile } = (await post("HeapProfiler.stopSampling")) as { profile: { head: ProfileNode } };
const bySite = new Map<string, number>();
let total = 0;
const name = (n: ProfileNode) => {
  const f = n.callFrame;
  const url = f.url.replace(/^.*\/(tether-slot-[^/]+|tether-run)\//, "");
  return `${f.functionName || "(anonymous)"} ${url}:${f.lineNumber + 1}`;
};
// A builtin (slice, sort, Map#delete) is named with its caller: "slice :0 < caller".
const walk = (n: ProfileNode, parent: string) => {
  const own = name(n);
  const key = n.callFrame.url === "" ? `${own} < ${parent}` : own;
  bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
  total += n.selfSize;
  for (const c of n.children) walk(c, own);
};
walk(profile.head, "");
console.log(`${s.telemetry.published} messages, ${(total / 1e6).toFixed(0)} MB sampled, ${(total / s.telemetry.published).toFixed(0)} bytes per message`);
for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / s.telemetry.published).toFixed(0).padStart(5)} B/msg  ${k}`);

/**
 * One `--broker virtual` fleet run under the V8 profiler (node:inspector, in this process), its
 * self time summed per source file: lines of the CLI bundle and of the agent's firmware module are
 * mapped back to their .ts files by the `// path/to/file.ts` markers esbuild writes at each module.
 * Prints one JSON line: messages, CPU µs per message, and sampled µs per message per file. Run by
 * bench/lib/cost-split.mjs (rounds, fresh processes).
 *
 *   node --max-semi-space-size=64 scripts/run-ts.mjs bench/lib/cost-split-once.ts [devices] [hours]
 */
import fs from "node:fs";
import { Session } from "node:inspector/promises";
import { fileURLToPath } from "node:url";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareImages, firmwareRequests, loadFirmwareLibrary } from "../../host-sim/fleet/images";
import { validateScenario } from "../../host-sim/fleet/scenario";

const [devices = 1000, hours = 4] = process.argv.slice(2).map(Number);
const MARKER = /^\/\/ ((?:device|host-sim|tools|service)\/[^\s]+\.ts)$/;

/** Line number (0-based) → source file, from esbuild's per-module markers. */
function lineOwners(source: string): string[] {
  const owners: string[] = [];
  let current = "(bundle prologue)";
  for (const line of source.split("\n")) {
    const m = MARKER.exec(line);
    if (m) current = m[1];
    owners.push(current);
  }
  return owners;
}

const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" } }] });
const built = await buildFirmwareImages(firmwareRequests(scenario), nodeSha256);
const library = await loadFirmwareLibrary(built);
const firmwareLines = lineOwners(new TextDecoder().decode(built[0].payload));
/** The CLI bundle this script was compiled into (by scripts/run-ts.mjs), read back by URL. */
const hostLinesByUrl = new Map<string, string[]>();
const hostLines = (url: string) => {
  let lines = hostLinesByUrl.get(url);
  if (!lines) hostLinesByUrl.set(url, (lines = lineOwners(fs.readFileSync(fileURLToPath(url), "utf8"))));
  return lines;
};

const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 200 });
await session.post("Profiler.start");
const cpu0 = process.cpuUsage();
const fleet = new VirtualFleet({ devices, durationMs: hours * 3_600_000, seed: 1, scenario, library, sha256: nodeSha256, wallNow: () => performance.now() });
const summary = fleet.run();
const cpu = process.cpuUsage(cpu0);
const { profile } = await session.post("Profiler.stop");
session.disconnect();

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map<string, number>();
const samples = profile.samples ?? [];
const deltas = profile.timeDeltas ?? [];
for (let i = 0; i < samples.length; i++) {
  const node = byId.get(samples[i])!;
  const f = node.callFrame;
  let owner: string;
  if (f.url.includes("/tether-slot-")) owner = `agent:${firmwareLines[f.lineNumber] ?? "?"}`;
  else if (f.url.includes("/.cache/tether-run/")) owner = `host:${hostLines(f.url)[f.lineNumber] ?? "?"}`;
  else if (f.url === "") owner = `native:${f.functionName || "(anonymous)"}`;
  else owner = `other:${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\//, "")}`;
  selfMicros.set(owner, (selfMicros.get(owner) ?? 0) + (deltas[i + 1] ?? 0));
}
const messages = summary.telemetry.published;
const perMessage: Record<string, number> = {};
for (const [k, us] of [...selfMicros].sort((a, b) => b[1] - a[1])) perMessage[k] = Number((us / messages).toFixed(3));
console.log(JSON.stringify({
  devices, hours, messages, lost: summary.telemetry.lost, traceHash: summary.traceHash,
  cpuMicrosPerMessage: Number((((cpu.user + cpu.system) / messages)).toFixed(2)),
  sampledMicrosPerMessage: Number(([...selfMicros.values()].reduce((a, b) => a + b, 0) / messages).toFixed(2)),
  perMessage,
}));

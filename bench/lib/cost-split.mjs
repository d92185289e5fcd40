#!/usr/bin/env node
// Where one telemetry message's CPU goes in a `--broker virtual` fleet run: runs
// bench/lib/cost-split-once.ts (the V8 sampling profiler, self time per source file) in a fresh
// process per round, ROUNDS rounds after a warm-up, and writes bench/results/<name>.json with
// min/median/max sampled µs per message per part (the agent's code, the broker, the network, the
// scheduler, the simulated hardware, the engine's bookkeeping, GC) and per file. The profiler
// adds its own cost, so read the shares, not the absolute µs; `cpuMicrosecondsPerMessage` is the
// process's CPU time under the profiler.
//
//   node bench/lib/cost-split.mjs <name> <devices> <hours> <rounds>
//   node bench/lib/cost-split.mjs fleet-cost-split 1000 6 5
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SIM_NODE_FLAGS } from "../../bin/node-flags.mjs";
import { spread } from "./fleet-runs.mjs";
import { resultsHeader } from "./results-header.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const [name, devices, hours, rounds] = process.argv.slice(2);
if (!name || !devices || !hours || !rounds) {
  console.error("usage: node bench/lib/cost-split.mjs <name> <devices> <hours> <rounds>");
  process.exit(2);
}

/** Parts, first match wins: [label, test on "agent:file" / "host:file" / "native:fn" / "other:url"]. */
const PARTS = [
  ["agent: the real agent's code (device/core, the firmware module every device runs)", (k) => k.startsWith("agent:")],
  ["virtual broker (host-sim/broker and the MQTT parser and codec it uses)", (k) => /^host:(host-sim\/broker\/|device\/core\/mqtt\/)/.test(k)],
  ["virtual network (host-sim/virtual/network.ts)", (k) => k === "host:host-sim/virtual/network.ts"],
  ["scheduler (the virtual clock's timer heap)", (k) => k === "host:host-sim/virtual/clock.ts"],
  ["simulated hardware (flash, NVS/KV, battery, sensors, the device shell)", (k) => /^host:(host-sim\/(virtual|battery|sensors)\/|host-sim\/fleet\/(device|cow-flash|radio)\.ts|device\/platform\/)/.test(k)],
  ["engine bookkeeping (run loop, ground-truth observers, metrics, trace hash, guards)", (k) => k.startsWith("host:")],
  ["garbage collection", (k) => k === "native:(garbage collector)"],
  ["other (Node internals, native calls, idle)", () => true],
];

const load0 = os.loadavg()[0];
const runs = [];
for (let round = 0; round <= Number(rounds); round++) {
  const out = execFileSync(process.execPath, [...SIM_NODE_FLAGS, path.join(root, "scripts", "run-ts.mjs"), path.join(root, "bench", "lib", "cost-split-once.ts"), devices, hours], { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  const r = JSON.parse(out.trim().split("\n").pop());
  const parts = Object.fromEntries(PARTS.map(([label]) => [label, 0]));
  for (const [k, us] of Object.entries(r.perMessage)) parts[PARTS.find(([, test]) => test(k))[0]] += us;
  r.parts = parts;
  console.log(`round ${round}${round === 0 ? " (warm-up)" : ""}: ${r.cpuMicrosPerMessage} CPU µs/msg, agent ${parts[PARTS[0][0]].toFixed(1)} µs/msg, ${r.messages} messages`);
  if (round > 0) runs.push(r);
}
const files = [...new Set(runs.flatMap((r) => Object.keys(r.perMessage)))];
const median = (k) => spread(runs.map((r) => r.perMessage[k] ?? 0), 3).median;
const record = {
  ...resultsHeader(name),
  machine: `${os.cpus().length} cores; 1-minute load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`,
  parameters: { devices: Number(devices), simulatedHours: Number(hours), seed: 1, telemetryEverySeconds: 60, rounds: Number(rounds), warmupRounds: 1, samplingIntervalMicroseconds: 200, nodeFlags: SIM_NODE_FLAGS },
  results: {
    messages: runs[0].messages,
    lost: Math.max(...runs.map((r) => r.lost)),
    sameTraceHash: new Set(runs.map((r) => r.traceHash)).size === 1,
    cpuMicrosecondsPerMessageUnderProfiler: spread(runs.map((r) => r.cpuMicrosPerMessage)),
    sampledMicrosecondsPerMessage: spread(runs.map((r) => r.sampledMicrosPerMessage)),
    parts: PARTS.map(([label]) => ({
      part: label,
      microsecondsPerMessage: spread(runs.map((r) => r.parts[label]), 2),
      shareOfSampled: spread(runs.map((r) => r.parts[label] / r.sampledMicrosPerMessage), 3),
    })),
    filesByMedianMicrosecondsPerMessage: Object.fromEntries(files.map((k) => [k, median(k)]).sort((a, b) => b[1] - a[1]).slice(0, 40)),
  },
};
const out = path.join(root, "bench", "results", `${name}.json`);
fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record.results.parts, null, 1));
console.log(`wrote ${path.relative(process.cwd(), out)}`);

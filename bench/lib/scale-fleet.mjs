#!/usr/bin/env node
// CPU per message of `--broker virtual` at several fleet sizes, interleaved in fresh processes (one
// warm-up round, then ROUNDS rounds), so "does a larger fleet cost more per message" is measured
// with everything else equal. Each size is "devices x hours"; compare sizes with the same hours
// (same messages per device: the boot storm is amortized alike), and one size at two lengths to
// see the boot's share. Writes bench/results/<name>.json.
//
//   node bench/lib/scale-fleet.mjs <name> <rounds> 1000x1 10000x1 1000x2
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resultsHeader } from "./results-header.mjs";
import { runFleet, spread } from "./fleet-runs.mjs";
import { SIM_NODE_FLAGS } from "../../bin/node-flags.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const [name, roundsArg, ...sizeArgs] = process.argv.slice(2);
if (!name || !roundsArg || sizeArgs.length === 0) {
  console.error("usage: node bench/lib/scale-fleet.mjs <name> <rounds> <devices>x<hours> ...");
  process.exit(2);
}
const rounds = Number(roundsArg);
const sizes = sizeArgs.map((s) => {
  const [devices, hours] = s.split("x").map(Number);
  return { devices, hours, runs: [] };
});
const load0 = os.loadavg()[0];
for (let i = 0; i <= rounds; i++) {
  // Rotate the order each round, so a load change does not hit one size only.
  const order = sizes.map((_, k) => sizes[(k + i) % sizes.length]);
  for (const s of order) {
    const r = runFleet(root, SIM_NODE_FLAGS, s.devices, s.hours);
    console.log(`round ${i}${i === 0 ? " (warm-up)" : ""}: ${s.devices} x ${s.hours} h ${r.cpuMicrosPerMessage} µs/msg, heap ${r.heapMB} MB`);
    if (i > 0) s.runs.push(r);
  }
}
const record = {
  ...resultsHeader(name),
  machine: `${os.cpus().length} cores shared with other jobs; 1-minute load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end: CPU time per message, not wall time, is the figure`,
  parameters: { sizes: sizes.map(({ devices, hours }) => ({ devices, simulatedHours: hours })), seed: 1, telemetryEverySeconds: 60, rounds, warmupRounds: 1, nodeFlags: SIM_NODE_FLAGS },
  results: sizes.map((s) => ({
    devices: s.devices,
    simulatedHours: s.hours,
    messages: s.runs[0].messages,
    lost: Math.max(...s.runs.map((r) => r.lost)),
    sameTraceHashEveryRound: s.runs.every((r) => r.traceHash === s.runs[0].traceHash),
    cpuMicrosecondsPerMessage: spread(s.runs.map((r) => r.cpuMicrosPerMessage)),
    heapMB: spread(s.runs.map((r) => r.heapMB), 0),
  })),
};
const out = path.join(root, "bench", "results", `${name}.json`);
fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record.results, null, 2));
console.log(`wrote ${path.relative(process.cwd(), out)}`);

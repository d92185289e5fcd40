#!/usr/bin/env node
// A/B of `--broker virtual` CPU cost between two checkouts (this one and a baseline), for a change
// whose effect is smaller than a loaded machine's wall-clock noise. Runs bench/lib/profile-fleet.ts
// from each root alternately in fresh processes (one warm-up pair, then ROUNDS pairs), and writes
// bench/results/<name>.json with min/median/max CPU µs per message on each side, the per-pair
// ratio, and both trace hashes (they must be equal: same seed, same run).
//
//   node bench/lib/ab-fleet.mjs <baseline-root> <name> "<what the baseline is>" [devices] [hours] [rounds]
//
// Both sides run with the Node flags `tether sim` runs with (SIM_NODE_FLAGS in bin/node-flags.mjs).
// AB_NODE_FLAGS / AB_BASE_NODE_FLAGS replace them for this side / the baseline ("" for none): the
// A/B of a flag passes this root as the baseline too.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resultsHeader } from "./results-header.mjs";
import { PROFILE_DRIVER, runFleet, spread } from "./fleet-runs.mjs";
import { SIM_NODE_FLAGS } from "../../bin/node-flags.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const [baseline, name, baselineIs, devices = "1000", hours = "2", rounds = "5"] = process.argv.slice(2);
if (!baseline || !name || !baselineIs) {
  console.error('usage: node bench/lib/ab-fleet.mjs <baseline-root> <name> "<what the baseline is>" [devices] [hours] [rounds]');
  process.exit(2);
}
const driver = PROFILE_DRIVER;
if (!fs.existsSync(path.join(baseline, driver))) fs.copyFileSync(path.join(root, driver), path.join(baseline, driver));

const flagsFrom = (v) => (v === undefined ? SIM_NODE_FLAGS : v.split(/\s+/).filter((f) => f !== ""));
const thisFlags = flagsFrom(process.env.AB_NODE_FLAGS);
const baseFlags = flagsFrom(process.env.AB_BASE_NODE_FLAGS);

const run = (dir, flags) => runFleet(dir, flags, devices, hours);

const load0 = os.loadavg()[0];
const pairs = [];
for (let i = 0; i <= Number(rounds); i++) {
  // Alternate which side goes first, so a load change hits both sides alike.
  const [a, b] = i % 2 === 0 ? [run(baseline, baseFlags), run(root, thisFlags)] : [run(root, thisFlags), run(baseline, baseFlags)].reverse();
  console.log(`round ${i}${i === 0 ? " (warm-up)" : ""}: baseline ${a.cpuMicrosPerMessage} µs/msg, this ${b.cpuMicrosPerMessage} µs/msg`);
  if (i > 0) pairs.push({ base: a, cand: b });
}
const record = {
  ...resultsHeader(name),
  machine: `${os.cpus().length} cores shared with other jobs; 1-minute load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end: CPU time per message, not wall time, is the figure`,
  parameters: { devices: Number(devices), simulatedHours: Number(hours), seed: 1, telemetryEverySeconds: 60, rounds: Number(rounds), warmupRounds: 1, baseline: baselineIs, thisNodeFlags: thisFlags, baselineNodeFlags: baseFlags },
  results: {
    messages: pairs[0].cand.messages,
    lost: Math.max(...pairs.map((p) => p.cand.lost + p.base.lost)),
    sameTraceHash: pairs.every((p) => p.base.traceHash === p.cand.traceHash),
    traceHash: pairs[0].cand.traceHash,
    baselineCpuMicrosecondsPerMessage: spread(pairs.map((p) => p.base.cpuMicrosPerMessage)),
    thisCpuMicrosecondsPerMessage: spread(pairs.map((p) => p.cand.cpuMicrosPerMessage)),
    baselineOverThis: spread(pairs.map((p) => p.base.cpuMicrosPerMessage / p.cand.cpuMicrosPerMessage), 3),
    baselineHeapMB: spread(pairs.map((p) => p.base.heapMB), 0),
    thisHeapMB: spread(pairs.map((p) => p.cand.heapMB), 0),
  },
};
const out = path.join(root, "bench", "results", `${name}.json`);
fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record.results, null, 2));
console.log(`wrote ${path.relative(process.cwd(), out)}`);

#!/usr/bin/env node
// The `--broker virtual` CPU cost of one tree under several sets of Node flags (a heap-size sweep),
// interleaved: every round runs bench/lib/profile-fleet.ts once per set in a fresh process, the
// order rotating from round to round, after one warm-up round. Writes bench/results/<name>.json
// with min/median/max CPU µs per message, wall seconds and heap per set, each set's per-round
// ratio to the first set, and the trace hashes (they must all be equal: same seed, same run).
//
//   node bench/lib/flags-sweep.mjs <name> <devices> <hours> <rounds> "<flags 1>" "<flags 2>" ...
//   node bench/lib/flags-sweep.mjs fleet-semi-space-1k 1000 2 5 "" "--max-semi-space-size=32" "--max-semi-space-size=64"
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resultsHeader } from "./results-header.mjs";
import { runFleet, spread } from "./fleet-runs.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const [name, devices, hours, rounds, ...sets] = process.argv.slice(2);
if (!name || !devices || !hours || !rounds || sets.length < 2) {
  console.error('usage: node bench/lib/flags-sweep.mjs <name> <devices> <hours> <rounds> "<flags 1>" "<flags 2>" ...');
  process.exit(2);
}
const flagSets = sets.map((s) => s.split(/\s+/).filter((f) => f !== ""));
const label = (i) => (flagSets[i].length === 0 ? "(none)" : flagSets[i].join(" "));

const run = (flags) => runFleet(root, flags, devices, hours);

const load0 = os.loadavg()[0];
const runs = flagSets.map(() => []);
for (let round = 0; round <= Number(rounds); round++) {
  const got = [];
  for (let k = 0; k < flagSets.length; k++) {
    const i = (k + round) % flagSets.length;
    got[i] = run(flagSets[i]);
  }
  console.log(`round ${round}${round === 0 ? " (warm-up)" : ""}: ${got.map((g, i) => `${label(i)} ${g.cpuMicrosPerMessage} µs/msg`).join(", ")}`);
  if (round > 0) got.forEach((g, i) => runs[i].push(g));
}
const hashes = new Set(runs.flat().map((r) => r.traceHash));
const record = {
  ...resultsHeader(name),
  machine: `${os.cpus().length} cores shared with other jobs; 1-minute load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end: CPU time per message, not wall time, is the figure`,
  parameters: { devices: Number(devices), simulatedHours: Number(hours), seed: 1, telemetryEverySeconds: 60, rounds: Number(rounds), warmupRounds: 1, order: "rotating per round", flagSets: flagSets.map((_, i) => label(i)) },
  results: {
    messages: runs[0][0].messages,
    lost: Math.max(...runs.flat().map((r) => r.lost)),
    sameTraceHash: hashes.size === 1,
    traceHash: runs[0][0].traceHash,
    sets: flagSets.map((_, i) => ({
      flags: label(i),
      cpuMicrosecondsPerMessage: spread(runs[i].map((r) => r.cpuMicrosPerMessage)),
      wallSeconds: spread(runs[i].map((r) => r.wallSeconds), 2),
      heapMB: spread(runs[i].map((r) => r.heapMB), 0),
      firstSetOverThis: spread(runs[i].map((r, n) => runs[0][n].cpuMicrosPerMessage / r.cpuMicrosPerMessage), 3),
    })),
  },
};
const out = path.join(root, "bench", "results", `${name}.json`);
fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record.results, null, 2));
console.log(`wrote ${path.relative(process.cwd(), out)}`);

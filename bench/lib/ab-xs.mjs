#!/usr/bin/env node
// XS computrons of a few cost scenarios in this checkout and a baseline checkout, side by side.
// Computrons are a deterministic count, so one run per side is the measurement (a second run
// is made on each side to show it repeats). Writes bench/results/<name>.json.
//
//   node bench/lib/ab-xs.mjs <baseline-root> <name> "<what the baseline is>" <scenario> [scenario...]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resultsHeader } from "./results-header.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const [baseline, name, baselineIs, ...scenarios] = process.argv.slice(2);
if (!baseline || !name || !baselineIs || scenarios.length === 0) {
  console.error('usage: node bench/lib/ab-xs.mjs <baseline-root> <name> "<what the baseline is>" <scenario> [scenario...]');
  process.exit(2);
}
const driver = path.join("bench", "lib", "xs-scenario-cost.ts");
for (const f of [driver, path.join("bench", "lib", "measure.ts")]) {
  if (!fs.existsSync(path.join(baseline, f))) fs.copyFileSync(path.join(root, f), path.join(baseline, f));
}

function run(dir) {
  const out = execFileSync(process.execPath, [path.join(dir, "scripts", "run-ts.mjs"), path.join(dir, driver), ...scenarios], { cwd: dir, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

const base = [run(baseline), run(baseline)];
const cand = [run(root), run(root)];
const repeats = JSON.stringify(base[0]) === JSON.stringify(base[1]) && JSON.stringify(cand[0]) === JSON.stringify(cand[1]);
const results = {};
for (const s of scenarios) {
  const b = base[0][s].metrics;
  const c = cand[0][s].metrics;
  results[s] = {};
  for (const k of Object.keys(c)) {
    results[s][k] = { baseline: b[k], this: c[k], baselineOverThis: b[k] ? Number((b[k] / c[k]).toFixed(3)) : null };
  }
  results[s].totalComputrons = { baseline: base[0][s].computrons, this: cand[0][s].computrons };
}
const record = {
  ...resultsHeader(name),
  machine: "XS computrons (xsnap, XS 13): a deterministic cost count, independent of the load",
  parameters: { scenarios, baseline: baselineIs, runsPerSide: 2 },
  results: { sameOnRepeat: repeats, ...results },
};
const out = path.join(root, "bench", "results", `${name}.json`);
fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record.results, null, 2));
console.log(`wrote ${path.relative(process.cwd(), out)}`);

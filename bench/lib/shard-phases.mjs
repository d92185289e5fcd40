#!/usr/bin/env node
// Where the wall time of `tether sim --broker virtual` goes outside the fleet run, one thread
// against `--shards 2`: start-up (both Node processes and the CLI bundle), the firmware build, the
// workers' start (overlapping the build), the firmware load, device construction, the fleet run
// itself (each shard's, and the gap between the slowest and the fastest), the merge and the exit
// (the workers' heaps are torn down before the process ends). Each run is a fresh
// `node bin/tether.js sim` with TETHER_SIM_PHASES=1 (host-sim/fleet/phase-marks.ts), timed by
// /usr/bin/time for CPU; one warm-up pair, then ROUNDS pairs, the order alternating.
//
//   node bench/lib/shard-phases.mjs [name] [devices] [hours] [rounds]
//
// Writes bench/results/<name>.json (default shard-phases): per phase min/median/max seconds.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resultsHeader } from "./results-header.mjs";
import { spread } from "./fleet-runs.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const [name = "shard-phases", devices = "10000", hours = "0.1", rounds = "5"] = process.argv.slice(2);
const PHASE_LINE = /^tether-phase (\d+(?:\.\d+)?) (.+)$/;

const nowMs = () => performance.timeOrigin + performance.now();

/** One `tether sim` run: its phase marks (epoch ms by label), spawn and end times, CPU seconds. */
function once(shards) {
  const json = path.join(os.tmpdir(), `tether-phases-${process.pid}-${shards}.json`);
  const args = ["-f", "%U %S", process.execPath, path.join(root, "bin", "tether.js"), "sim", "--devices", devices, "--duration", `${hours}h`,
    "--broker", "virtual", "--shards", String(shards), "--seed", "1", "--json", json, "--quiet"];
  const load = os.loadavg()[0];
  const spawnedAt = nowMs();
  return new Promise((resolve, reject) => {
    execFile("/usr/bin/time", args, { cwd: root, env: { ...process.env, TETHER_SIM_PHASES: "1" }, maxBuffer: 1 << 24 }, (err, _stdout, stderr) => {
      const endedAt = nowMs();
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      const lines = stderr.trim().split("\n");
      const [user, sys] = lines.pop().split(" ").map(Number);
      const marks = {};
      for (const line of lines) {
        const m = PHASE_LINE.exec(line);
        if (m) marks[m[2]] = Number(m[1]);
      }
      const summary = JSON.parse(fs.readFileSync(json, "utf8"));
      fs.rmSync(json, { force: true });
      resolve({ shards, marks, spawnedAt, endedAt, cpuSeconds: user + sys, load, messages: summary.telemetry.published, lost: summary.telemetry.lost, traceHash: summary.traceHash });
    });
  });
}

/** Seconds per phase of one run. */
function phases(r) {
  const m = r.marks;
  const s = (a, b) => (b - a) / 1000;
  const idx = [...Array(r.shards).keys()];
  const at = (label) => {
    if (m[label] === undefined) throw new Error(`no "${label}" mark in a ${r.shards}-shard run`);
    return m[label];
  };
  const loadStart = (i) => (r.shards === 1 ? at("firmware built") : at(`firmware in ${i}`));
  const runs = idx.map((i) => s(at(`devices built ${i}`), at(`fleet run done ${i}`)));
  const lastRunDone = Math.max(...idx.map((i) => at(`fleet run done ${i}`)));
  const out = {
    firstNodeAndRerun: s(r.spawnedAt, at("process start")),
    cliBundleLoad: s(at("process start"), at("simulation start")),
    firmwareBuild: s(at("simulation start"), at("firmware built")),
  };
  if (r.shards > 1) {
    const ready = Math.max(...idx.map((i) => at(`worker ready ${i}`)));
    out.workersReadyAfterStart = s(at("simulation start"), ready);
    out.waitForWorkersAfterBuild = Math.max(0, s(at("firmware built"), ready));
  }
  out.firmwareLoad = Math.max(...idx.map((i) => s(loadStart(i), at(`firmware loaded ${i}`))));
  out.deviceConstruction = Math.max(...idx.map((i) => s(at(`firmware loaded ${i}`), at(`devices built ${i}`))));
  out.fleetRunSlowest = Math.max(...runs);
  out.fleetRunFastest = Math.min(...runs);
  out.lastShardStartAfterFirst = s(Math.min(...idx.map((i) => at(`devices built ${i}`))), Math.max(...idx.map((i) => at(`devices built ${i}`))));
  out.resultsAndMerge = r.shards > 1 ? s(lastRunDone, at("results in")) : 0;
  // Two shards: the workers end (their heaps torn down) before the process can exit.
  out.workersExitAfterResults = r.shards > 1 ? Math.max(0, ...idx.map((i) => s(at("results in"), at(`worker exit ${i}`)))) : 0;
  out.summaryAndExitEvent = s(r.shards > 1 ? at("results in") : lastRunDone, at("process exit"));
  out.processTeardown = s(at("process exit"), r.endedAt);
  out.wholeCommand = s(r.spawnedAt, r.endedAt);
  // Everything but the slowest shard's fleet run: what `--shards` cannot divide.
  out.outsideFleetRun = out.wholeCommand - out.fleetRunSlowest;
  out.cpuSeconds = r.cpuSeconds;
  return out;
}

/** The commit measured ("+changes" when the work tree differs from it). */
function commit() {
  const git = (...a) => execFileSync("git", a, { cwd: root, encoding: "utf8" }).trim();
  return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--untracked-files=no") ? "+changes" : "");
}

const pairs = [];
for (let round = 0; round <= Number(rounds); round++) {
  const order = round % 2 === 0 ? [1, 2] : [2, 1];
  const got = {};
  for (const k of order) got[k] = await once(k);
  const p = { one: phases(got[1]), two: phases(got[2]), runs: got };
  console.log(
    `round ${round}${round === 0 ? " (warm-up)" : ""}: whole ${p.one.wholeCommand.toFixed(2)} / ${p.two.wholeCommand.toFixed(2)} s, outside the fleet run ${p.one.outsideFleetRun.toFixed(2)} / ${p.two.outsideFleetRun.toFixed(2)} s (load ${got[1].load.toFixed(1)}/${got[2].load.toFixed(1)})`,
  );
  if (round > 0) pairs.push(p);
}

const side = (pick) => Object.fromEntries(Object.keys(pick(pairs[0])).map((k) => [k, spread(pairs.map((p) => pick(p)[k]), 3)]));
const runsOf = (k) => pairs.map((p) => p.runs[k]);
const result = {
  ...resultsHeader(name),
  parameters: { devices: Number(devices), simulatedHours: Number(hours), drainMinutes: 30, seed: 1, rounds: Number(rounds), warmupRounds: 1, cores: os.cpus().length, node: process.version, commit: commit() },
  machine: "cores shared with other jobs: see the load averages",
  seconds: { oneThread: side((p) => p.one), twoShards: side((p) => p.two) },
  // Per pair: the two-shard run's extra seconds outside the fleet run, and its extra CPU seconds.
  twoShardsExtraOutsideFleetRun: spread(pairs.map((p) => p.two.outsideFleetRun - p.one.outsideFleetRun), 3),
  twoShardsExtraCpuSeconds: spread(pairs.map((p) => p.two.cpuSeconds - p.one.cpuSeconds), 3),
  messages: runsOf(1)[0].messages,
  lost: Math.max(...runsOf(1).map((r) => r.lost), ...runsOf(2).map((r) => r.lost)),
  traceHashes: { oneThread: [...new Set(runsOf(1).map((r) => r.traceHash))], twoShards: [...new Set(runsOf(2).map((r) => r.traceHash))] },
  loadAverages: pairs.map((p) => [p.runs[1].load, p.runs[2].load].map((l) => Number(l.toFixed(1)))),
};
const out = path.join(root, "bench", "results", `${name}.json`);
fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result.seconds, null, 1));
console.log(`wrote ${path.relative(root, out)}`);

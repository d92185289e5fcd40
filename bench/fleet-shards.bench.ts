// `tether sim --broker virtual --shards 2` against one thread, same fleet (the CLI's default
// scenario: telemetry every 60 s, 30 min drain), each run a fresh `node bin/tether.js sim`:
// ROUNDS pairs after one warm-up pair, the order inside each pair alternating so a change of
// machine load hits both sides alike. Per run: wall seconds of the whole command (start-up,
// firmware built once, workers started and the built code loaded in each, fleet run, summaries merged), the fleet
// run's own wall seconds (the slowest shard), CPU seconds of the process (all threads, from
// /usr/bin/time), messages and the trace hash. The figure is the per-pair speed-up, wall(1 thread) / wall(2 shards): it can
// only reach 2 when both cores are free, so the 1-minute load average is recorded per run.
//   FLEET_SHARD_DEVICES=1000 FLEET_SHARD_HOURS=2 FLEET_ROUNDS=5 npm run bench -- fleet-shards
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FleetSummary } from "../host-sim/fleet/metrics";
import { spread } from "./lib/measure";

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const DEVICES = env("FLEET_SHARD_DEVICES", 1000);
const HOURS = env("FLEET_SHARD_HOURS", 2);
const ROUNDS = Math.max(1, env("FLEET_ROUNDS", 5));

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** One `tether sim` in a fresh process (its shards are worker threads of that process), timed by /usr/bin/time. */
async function once(shards: number) {
  const json = path.join(os.tmpdir(), `tether-shards-${process.pid}-${shards}.json`);
  const load = os.loadavg()[0];
  const t0 = performance.now();
  const args = ["-f", "%U %S", process.execPath, path.join(ROOT, "bin", "tether.js"), "sim", "--devices", String(DEVICES), "--duration", `${HOURS}h`,
    "--broker", "virtual", "--shards", String(shards), "--seed", "1", "--json", json, "--quiet"];
  const { stderr } = await run("/usr/bin/time", args);
  const wallSeconds = (performance.now() - t0) / 1000;
  const [user, sys] = stderr.trim().split("\n").pop()!.split(" ").map(Number);
  const s = JSON.parse(fs.readFileSync(json, "utf8")) as FleetSummary;
  fs.rmSync(json, { force: true });
  return {
    shards,
    wallSeconds,
    fleetWallSeconds: s.wallSeconds,
    cpuSeconds: user + sys,
    messages: s.telemetry.published,
    lost: s.telemetry.lost,
    traceHash: s.traceHash,
    loadAverageAtStart: load,
  };
}

function run(cmd: string, args: string[]): Promise<{ stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, maxBuffer: 1 << 24 }, (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stderr })));
  });
}

export default async function () {
  const pairs: { one: Awaited<ReturnType<typeof once>>; two: Awaited<ReturnType<typeof once>> }[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    let one;
    let two;
    if (round % 2 === 0) {
      one = await once(1);
      two = await once(2);
    } else {
      two = await once(2);
      one = await once(1);
    }
    console.log(`round ${round}${round === 0 ? " (warm-up)" : ""}: 1 thread ${one.wallSeconds.toFixed(1)} s, 2 shards ${two.wallSeconds.toFixed(1)} s (load ${one.loadAverageAtStart.toFixed(1)}/${two.loadAverageAtStart.toFixed(1)})`);
    if (round > 0) pairs.push({ one, two });
  }
  const side = (pick: (p: (typeof pairs)[number]) => Awaited<ReturnType<typeof once>>) => ({
    wallSeconds: spread(pairs.map((p) => pick(p).wallSeconds), 2),
    fleetWallSeconds: spread(pairs.map((p) => pick(p).fleetWallSeconds), 2),
    cpuSeconds: spread(pairs.map((p) => pick(p).cpuSeconds), 2),
    messagesPerWallSecond: spread(pairs.map((p) => pick(p).messages / pick(p).wallSeconds)),
    traceHashes: [...new Set(pairs.map((p) => pick(p).traceHash))],
    lost: Math.max(...pairs.map((p) => pick(p).lost)),
  });
  return {
    parameters: { devices: DEVICES, simulatedHours: HOURS, telemetryEverySeconds: 60, seed: 1, rounds: ROUNDS, warmupRounds: 1, cores: os.cpus().length, node: process.version },
    machine: "cores shared with other jobs: the speed-up can reach 2 only while both cores are free (see the load averages)",
    messages: pairs[0].one.messages,
    oneThread: side((p) => p.one),
    twoShards: side((p) => p.two),
    speedUp: spread(pairs.map((p) => p.one.wallSeconds / p.two.wallSeconds), 3),
    fleetRunSpeedUp: spread(pairs.map((p) => p.one.fleetWallSeconds / p.two.fleetWallSeconds), 3),
    loadAverages: pairs.map((p) => [Number(p.one.loadAverageAtStart.toFixed(1)), Number(p.two.loadAverageAtStart.toFixed(1))]),
  };
}

// `tether sim --broker virtual --shards 2` against one thread, same fleet (the CLI's default
// scenario: telemetry every 60 s, 30 min drain), each run a fresh `node bin/tether.js sim`:
// ROUNDS pairs after one warm-up pair, the order inside each pair alternating so a change of
// machine load hits both sides alike. Per run: wall seconds of the whole command (start-up,
// firmware built once, workers started and the built code loaded in each, fleet run, summaries merged), the fleet
// run's own wall seconds (the slowest shard), CPU seconds of the process (all threads, from
// /usr/bin/time), messages and the trace hash. The figure is the per-pair speed-up, wall(1 thread) / wall(2 shards): it can
// only reach 2 when both cores are free, so the 1-minute load average is recorded per run.
//   FLEET_SHARD_DEVICES=1000 FLEET_SHARD_HOURS=2 FLEET_ROUNDS=5 npm run bench -- fleet-shards
// FLEET_SHARD_BASE_DIR=<another checkout> adds a third run per round, `--shards 2` of that
// checkout (the code before a change), in rotating order: before/after in the same run.
import { execFile, execFileSync } from "node:child_process";
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
const BASE_DIR = process.env.FLEET_SHARD_BASE_DIR;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** One `tether sim` in a fresh process (its shards are worker threads of that process), timed by /usr/bin/time. */
async function once(shards: number, root = ROOT) {
  const json = path.join(os.tmpdir(), `tether-shards-${process.pid}-${shards}.json`);
  const load = os.loadavg()[0];
  const t0 = performance.now();
  const args = ["-f", "%U %S", process.execPath, path.join(root, "bin", "tether.js"), "sim", "--devices", String(DEVICES), "--duration", `${HOURS}h`,
    "--broker", "virtual", "--shards", String(shards), "--seed", "1", "--json", json, "--quiet"];
  const { stderr } = await run("/usr/bin/time", args, root);
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

/** The commit measured ("+changes" when the work tree differs from it). */
function commit(root = ROOT): string {
  const git = (...a: string[]) => execFileSync("git", a, { cwd: root, encoding: "utf8" }).trim();
  return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--untracked-files=no") ? "+changes" : "");
}

function run(cmd: string, args: string[], cwd: string): Promise<{ stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 1 << 24 }, (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stderr })));
  });
}

type Run = Awaited<ReturnType<typeof once>>;

export default async function () {
  const pairs: { one: Run; two: Run; base?: Run }[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const runs: Record<string, () => Promise<Run>> = { one: () => once(1), two: () => once(2) };
    if (BASE_DIR) runs.base = () => once(2, BASE_DIR);
    // Rotate the order so that a change of load hits every side alike.
    const names = Object.keys(runs);
    const order = names.map((_, i) => names[(i + round) % names.length]);
    const got: Record<string, Run> = {};
    for (const name of order) got[name] = await runs[name]();
    const { one, two, base } = got;
    console.log(
      `round ${round}${round === 0 ? " (warm-up)" : ""}: 1 thread ${one.wallSeconds.toFixed(1)} s, 2 shards ${two.wallSeconds.toFixed(1)} s` +
        (base ? `, base 2 shards ${base.wallSeconds.toFixed(1)} s` : "") +
        ` (load ${[one, two, base].filter(Boolean).map((r) => r!.loadAverageAtStart.toFixed(1)).join("/")})`,
    );
    if (round > 0) pairs.push({ one, two, base });
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
    parameters: { devices: DEVICES, simulatedHours: HOURS, telemetryEverySeconds: 60, seed: 1, rounds: ROUNDS, warmupRounds: 1, cores: os.cpus().length, node: process.version, commit: commit() },
    machine: "cores shared with other jobs: the speed-up can reach 2 only while both cores are free (see the load averages)",
    messages: pairs[0].one.messages,
    oneThread: side((p) => p.one),
    twoShards: side((p) => p.two),
    speedUp: spread(pairs.map((p) => p.one.wallSeconds / p.two.wallSeconds), 3),
    fleetRunSpeedUp: spread(pairs.map((p) => p.one.fleetWallSeconds / p.two.fleetWallSeconds), 3),
    // Per round: CPU seconds of two shards over one thread's (all threads and children, /usr/bin/time).
    cpuOverOneThread: spread(pairs.map((p) => p.two.cpuSeconds / p.one.cpuSeconds), 3),
    loadAverages: pairs.map((p) => [p.one, p.two, p.base].filter((r) => r !== undefined).map((r) => Number(r.loadAverageAtStart.toFixed(1)))),
    ...(BASE_DIR
      ? {
          base: {
            dir: BASE_DIR,
            commit: commit(BASE_DIR),
            twoShards: side((p) => p.base!),
            speedUp: spread(pairs.map((p) => p.one.wallSeconds / p.base!.wallSeconds), 3),
            fleetRunSpeedUp: spread(pairs.map((p) => p.one.fleetWallSeconds / p.base!.fleetWallSeconds), 3),
            // Per round: CPU seconds of two shards over one thread's, before and after.
            cpuOverOneThread: spread(pairs.map((p) => p.base!.cpuSeconds / p.one.cpuSeconds), 3),
          },
        }
      : {}),
  };
}

// Issue 15's V1, run rather than projected: `tether sim --broker virtual` on 10,000 devices ×
// 24 simulated hours, telemetry every 60 s (the CLI's default scenario, 30 min drain), each
// round a fresh `node bin/tether.js sim --shards SHARDS` timed by /usr/bin/time, then in the
// same round its peers: the encode-only floor (FLOOR_MESSAGES messages; its cost per message
// does not depend on how many) and, with SYNTH_DIR, Synth on the same fleet. ROUNDS rounds
// after one warm-up round. Target: ≤ 120 s wall for the whole command, nothing lost.
//   npm run bench -- fleet-v1                                  (about 40 min on 2 cores)
//   FLEET_V1_DEVICES=1000 FLEET_V1_HOURS=1 npm run bench -- fleet-v1   (a quick check)
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FleetSummary } from "../host-sim/fleet/metrics";
import { SYNTH_ISSUE_FIGURES, encodeOnly, synthFleet } from "./lib/fleet-peers";
import { spread } from "./lib/measure";

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const DEVICES = env("FLEET_V1_DEVICES", 10_000);
const HOURS = env("FLEET_V1_HOURS", 24);
const SHARDS = env("FLEET_V1_SHARDS", 2);
const ROUNDS = Math.max(1, env("FLEET_ROUNDS", 5));
const FLOOR_MESSAGES = env("FLEET_V1_FLOOR_MESSAGES", 1_000_000);
const SYNTH_DIR = process.env.SYNTH_DIR;
const TARGET_WALL_SECONDS = 120;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function simOnce() {
  return new Promise<{ wallSeconds: number; fleetWallSeconds: number; cpuSeconds: number; messages: number; lost: number; traceHash: string; loadAverageAtStart: number; maxRssMB: number }>((resolve, reject) => {
    const json = path.join(os.tmpdir(), `tether-v1-${process.pid}.json`);
    const loadAverageAtStart = os.loadavg()[0];
    const args = ["-f", "%U %S %M", process.execPath, path.join(ROOT, "bin", "tether.js"), "sim", "--devices", String(DEVICES), "--duration", `${HOURS}h`,
      "--broker", "virtual", "--shards", String(SHARDS), "--seed", "1", "--json", json, "--quiet"];
    const t0 = performance.now();
    execFile("/usr/bin/time", args, { cwd: ROOT, maxBuffer: 1 << 24 }, (err, _stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      const wallSeconds = (performance.now() - t0) / 1000;
      const [user, sys, maxRssKB] = stderr.trim().split("\n").pop()!.split(" ").map(Number);
      const s = JSON.parse(fs.readFileSync(json, "utf8")) as FleetSummary;
      fs.rmSync(json, { force: true });
      resolve({ wallSeconds, fleetWallSeconds: s.wallSeconds, cpuSeconds: user + sys, messages: s.telemetry.published, lost: s.telemetry.lost, traceHash: s.traceHash, loadAverageAtStart, maxRssMB: Math.round(maxRssKB / 1024) });
    });
  });
}

export default async function () {
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  const sims: Awaited<ReturnType<typeof simOnce>>[] = [];
  const floors: ReturnType<typeof encodeOnly>[] = [];
  const synths: ReturnType<typeof synthFleet>[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const v = await simOnce();
    const e = encodeOnly(FLOOR_MESSAGES);
    const y = SYNTH_DIR ? synthFleet(SYNTH_DIR, DEVICES, HOURS) : undefined;
    console.log(`round ${round}${round === 0 ? " (warm-up)" : ""}: ${v.wallSeconds.toFixed(1)} s wall, ${v.cpuSeconds.toFixed(1)} CPU s, ${v.messages} messages, ${v.lost} lost, load ${v.loadAverageAtStart.toFixed(1)}`);
    if (round === 0) continue;
    sims.push(v);
    floors.push(e);
    if (y) synths.push(y);
  }
  const hashes = [...new Set(sims.map((v) => v.traceHash))];
  const floorCpuMicros = (e: ReturnType<typeof encodeOnly>) => (e.cpuSeconds * 1e6) / e.messages;
  const cpuMicros = (v: (typeof sims)[number]) => (v.cpuSeconds * 1e6) / v.messages;
  return {
    parameters: { FLEET_V1_DEVICES: DEVICES, FLEET_V1_HOURS: HOURS, FLEET_V1_SHARDS: SHARDS, FLEET_ROUNDS: ROUNDS, FLEET_V1_FLOOR_MESSAGES: FLOOR_MESSAGES, SYNTH_DIR: SYNTH_DIR ?? null, telemetryEverySeconds: 60, scenario: "the CLI's default (30 min drain)", seed: 1, warmupRounds: 1, commit },
    sim: {
      messages: sims[0].messages,
      lost: Math.max(...sims.map((v) => v.lost)),
      sameTraceHashEveryRound: hashes.length === 1,
      traceHash: hashes.join(","),
      wallSeconds: spread(sims.map((v) => v.wallSeconds), 1),
      fleetRunWallSeconds: spread(sims.map((v) => v.fleetWallSeconds), 1),
      cpuSeconds: spread(sims.map((v) => v.cpuSeconds), 1),
      messagesPerWallSecond: spread(sims.map((v) => v.messages / v.wallSeconds)),
      cpuMicrosecondsPerMessage: spread(sims.map(cpuMicros), 1),
      maxResidentMB: spread(sims.map((v) => v.maxRssMB)),
      loadAverageAtStart: spread(sims.map((v) => v.loadAverageAtStart), 1),
      targetWallSeconds: TARGET_WALL_SECONDS,
    },
    encodeOnly: { messages: FLOOR_MESSAGES, bytesPerMessage: floors[0].bytesPerMessage, cpuMicrosecondsPerMessage: spread(floors.map(floorCpuMicros), 2) },
    // Per round: the whole command's CPU per message (all threads) over the floor's in the same round.
    cpuRatioToEncodeFloor: spread(sims.map((v, i) => cpuMicros(v) / floorCpuMicros(floors[i])), 1),
    synth:
      synths.length === 0
        ? `not run (SYNTH_DIR unset): compare with ${SYNTH_ISSUE_FIGURES}`
        : { events: synths[0].events, wallSeconds: spread(synths.map((y) => y.wallSeconds), 1), tetherOverSynthWall: spread(sims.map((v, i) => v.messages / v.wallSeconds / (synths[i].events / synths[i].wallSeconds)), 2) },
  };
}

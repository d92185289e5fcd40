/**
 * The rollout tick over 10,000 devices (a benchmark, not a test), this checkout against a
 * baseline checkout in the same process, interleaved round by round:
 * - the pure step (service/rollouts/machine.ts) on the state of bench/fleet-service.bench.ts
 *   (500 succeeded, the rest queued, wave 2 of canary 20 + 5 %, 25 %, 100 %), facts answered
 *   from memory;
 * - the runner's tickAll() in a FleetService (SQLite in memory, no broker): a rollout at
 *   600/min whose offered devices report success before the next tick, so each tick offers,
 *   stores and reads the registry as the service does.
 * Rounds: 1 warm-up then 5, each side per round (the order alternates); per round the median
 * of its ticks; min/median/max over the rounds.
 *
 *   ROLLOUT_TICK_BASELINE=DIR ROLLOUT_TICK_BASELINE_IS="what DIR is" npm run bench -- rollout-tick
 * DIR is a checkout of the code to compare with (`git archive COMMIT | tar -x -C DIR`, and
 * `ln -s $PWD/node_modules DIR/`); without it only this checkout is measured.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileTs } from "../scripts/run-ts.mjs";

const DEVICES = 10_000;
const ROUNDS = 5;
const TICKS_PER_ROUND = 12;
const TICK_MS = 5_000;
const EPOCH = 1_795_000_000_000;
const V_OLD = 1_002_000;
const V_NEW = 1_003_000;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The modules of one checkout, compiled from its sources. */
async function loadSide(root: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-rollout-tick-"));
  const entry = path.join(dir, `side-${path.basename(root)}.ts`);
  const index = path.join(root, "service/rollouts/device-index.ts");
  const lines = [
    `export { FleetService } from ${JSON.stringify(path.join(root, "service/fleet-service"))};`,
    `export { step, waveEnds } from ${JSON.stringify(path.join(root, "service/rollouts/machine"))};`,
    `export { DEFAULTS } from ${JSON.stringify(path.join(root, "service/rollouts/spec"))};`,
    `export { encodeTelemetryBatch } from ${JSON.stringify(path.join(root, "device/core/telemetry/record"))};`,
    `export { encodeStatus } from ${JSON.stringify(path.join(root, "device/core/ota/status"))};`,
    `export { createBundle, keyPairFromSeed } from ${JSON.stringify(path.join(root, "tools/ota/bundle"))};`,
    `export { writeBundle } from ${JSON.stringify(path.join(root, "tools/ota/bundle-files"))};`,
    `export { nodeSha256 } from ${JSON.stringify(path.join(root, "device/platform/node/sha256"))};`,
    fs.existsSync(index) ? `export { RolloutDevices } from ${JSON.stringify(index.replace(/\.ts$/, ""))};` : `export const RolloutDevices = undefined;`,
  ];
  fs.writeFileSync(entry, lines.join("\n"));
  const compiled = await compileTs(entry, { outFile: path.join(repoRoot, "node_modules", ".cache", "tether-bench", `rollout-tick-${path.basename(dir)}.mjs`) });
  fs.rmSync(dir, { recursive: true, force: true });
  return import(compiled);
}
type Side = Awaited<ReturnType<typeof loadSide>>;

// ---------------------------------------------------------------- the pure step
function pureStep(m: Side) {
  const spec = {
    bundle: "b", version: V_NEW, hardwareId: "hw", target: "firmware < 1.3.0", canary: 20, waves: [5, 25, 100], ratePerMinute: 100,
    maxFailurePct: 5, minExecuted: 20, timeoutMs: 1_800_000, soakMs: 7_200_000, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3, health: { ...m.DEFAULTS.health },
  };
  const ends: number[] = m.waveEnds(DEVICES, spec.canary, spec.waves);
  const devices = m.RolloutDevices ? new m.RolloutDevices() : new Map();
  for (let i = 0; i < DEVICES; i++) {
    devices.set(`d${i}`, { deviceId: `d${i}`, position: i, wave: ends.findIndex((e) => i < e), state: i < 500 ? "succeeded" : "queued", result: null, cause: null, fromVersion: V_OLD,
      offeredAt: i < 500 ? 0 : null, offers: i < 500 ? 1 : 0, progressAt: null, updatedAt: 0, retries: 0, interrupted: 0, detail: null, rollbackAt: null, rollbackResult: null });
  }
  const r = { id: "r0001", spec, status: "running", wave: 2, waveEnds: ends, waveStartedAt: 0, waveSucceededAt: null, haltRule: null, haltDetail: null, updatedAt: 0, finishedAt: null };
  const facts = () => ({ online: true, batteryPct: 80, batteryStatus: 0, busy: false, firmwareNum: V_OLD });
  let now = 10_000_000;
  return () => {
    const times: number[] = [];
    for (let i = 0; i < TICKS_PER_ROUND; i++) {
      now += 60_000;
      const t = performance.now();
      const out = m.step(r, devices, { type: "tick", now, facts });
      times.push(performance.now() - t);
      if (out.effects.length === 0) throw new Error("the step offered nothing");
    }
    return median(times);
  };
}

// ---------------------------------------------------------------- the runner in a service
async function runnerTick(m: Side) {
  let now = EPOCH;
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const transport = { onBatch() {}, async start() {}, async publish() {}, connected: () => true, async close() {} };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-rollout-tick-bundle-"));
  const { secretKey } = m.keyPairFromSeed(new Uint8Array(32).fill(7));
  m.writeBundle(dir, m.createBundle(new TextEncoder().encode("firmware".padEnd(1500, ".")), { version: V_NEW, hardwareId: "tether-devkit", securityCounter: 1, blockSize: 1024 }, secretKey, m.nodeSha256));
  const service = new m.FleetService({ db: ":memory:", clock, transport, rollouts: { tickMs: TICK_MS, healthEveryMs: 1e15 } });
  await service.start();
  const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(5, "0")}`);
  for (let i = 0; i < DEVICES; i += 500) {
    service.ingest.handle(ids.slice(i, i + 500).flatMap((id: string) => [
      { topic: `tether/${id}/status`, payload: new TextEncoder().encode("online"), retain: true },
      { topic: `tether/${id}/telemetry`, retain: false, payload: m.encodeTelemetryBatch({
        deviceId: id, seq: 1, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: now, uptimeMs: 60_000,
        link: { state: "online", reconnects: 0 }, battery: { mv: 3900, pct: 80, status: 0 }, samples: [{ tMs: now, temperatureCentiC: 2150, humidityPermille: 456, rssiDbm: -67 }],
      }) },
    ]));
  }
  const id = service.rollouts.create({
    bundle: dir, target: "firmware < 1.3.0", canary: 20, waves: [5, 25, 100], ratePerMinute: 600, maxFailurePct: 5, minExecuted: 20, timeoutMs: 1_800_000,
    soakMs: 0, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3, health: { ...m.DEFAULTS.health },
  }).id;
  /** Devices offered since the last call report success (as the updated firmware would). */
  const answerOffers = () => {
    const offered = service.rollouts.devices(id).filter((d: { state: string }) => d.state === "offered");
    now += 1;
    service.ingest.handle(offered.map((d: { deviceId: string }) => ({
      topic: `tether/${d.deviceId}/ota/status`, retain: true, payload: m.encodeStatus({ state: 0, result: 1, version: V_NEW, running: V_NEW }),
    })));
  };
  return {
    round: () => {
      const times: number[] = [];
      for (let i = 0; i < TICKS_PER_ROUND; i++) {
        answerOffers();
        now += TICK_MS;
        const t = performance.now();
        service.rollouts.tickAll();
        times.push(performance.now() - t);
      }
      return median(times);
    },
    succeeded: () => (service.rollouts.status(id) as { counts: { succeeded: number } }).counts.succeeded,
    close: async () => {
      await service.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function stats(v: number[]) {
  const s = [...v].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000); // ms → µs
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}

export default async function measure() {
  const baselineRoot = process.env.ROLLOUT_TICK_BASELINE ? path.resolve(process.env.ROLLOUT_TICK_BASELINE) : undefined;
  const roots = baselineRoot ? { baseline: baselineRoot, current: repoRoot } : { current: repoRoot };
  const sides = await Promise.all(Object.entries(roots).map(async ([name, root]) => {
    const m = await loadSide(root);
    return { name, pure: pureStep(m), runner: await runnerTick(m), pureMs: [] as number[], runnerMs: [] as number[] };
  }));
  for (let round = 0; round <= ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      const pure = s.pure();
      const runner = s.runner.round();
      if (round === 0) continue; // warm-up
      s.pureMs.push(pure);
      s.runnerMs.push(runner);
    }
  }
  const out: Record<string, unknown> = {
    parameters: { devices: DEVICES, rounds: ROUNDS, warmup: 1, ticksPerRound: TICKS_PER_ROUND, runner: { ratePerMinute: 600, tickMs: TICK_MS, sqlite: ":memory:" } },
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverage1mAtStart: os.loadavg()[0] },
    baselineCheckout: baselineRoot ? { dir: baselineRoot, is: process.env.ROLLOUT_TICK_BASELINE_IS ?? "not said" } : "none (set ROLLOUT_TICK_BASELINE)",
  };
  for (const s of sides) {
    out[s.name] = {
      pureStepTickMicroseconds: stats(s.pureMs),
      runnerTickMicroseconds: stats(s.runnerMs),
      devicesSucceededAtEnd: s.runner.succeeded(),
    };
    await s.runner.close();
  }
  out.note = "per round: the median of its ticks; both sides advance their own rollout the same way, so each round sees the same state on both sides";
  return out;
}

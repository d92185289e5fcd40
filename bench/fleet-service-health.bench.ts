/**
 * The fleet service with its health module (a benchmark, not a test), this checkout against a
 * baseline checkout in the same process, rounds interleaved:
 * - **start**: `new FleetService` + `ProactiveSupport` + `start()` on a database file made by the
 *   real ingest path (10,000 and 50,000 devices, each with 3 telemetry batches, labels, a cancelled
 *   rollout and a live one over every device). Each start opens its own copy of the file.
 * - **intervalStore**: ingest throughput (telemetry messages/s through `Ingest.handle`, the
 *   health module and the rollout runner listening) with the report-interval store
 *   (service/health/interval-store.ts) against the same service whose store writes nothing, at
 *   steady state (every device's interval stays: no row written) and in the worst case (every
 *   batch of every device announces another interval: one row per message). 10,000 devices,
 *   500 messages per ingest transaction.
 * - **fleetSize**: steady-state ingest per message and the rollout runner's
 *   tick with 1,000, 10,000 and 50,000 known devices, each in a live rollout in its last wave
 *   (all but 21 devices succeeded, one ambiguous rejection waiting for successes in its
 *   stratum): work per message or per tick that grows with the fleet shows here.
 * Rounds: 1 warm-up then 5; the order of the sides alternates; min/median/max over the rounds.
 *
 *   FLEET_SERVICE_BASELINE=DIR FLEET_SERVICE_BASELINE_IS="what DIR is" npm run bench -- fleet-service-health
 * DIR is a checkout of the code to compare with (`git archive COMMIT | tar -x -C DIR`, and
 * `ln -s $PWD/node_modules DIR/`); without it only this checkout is measured.
 * Sizes (for a quick look): FLEET_SERVICE_HEALTH_SIZES=10000,50000 (start),
 * FLEET_SERVICE_HEALTH_INGEST_DEVICES=10000, FLEET_SERVICE_HEALTH_FLEET_SIZES=1000,10000,50000.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileTs } from "../scripts/run-ts.mjs";

const ROUNDS = 5;
const BATCH = 500;
const EPOCH = 1_795_000_000_000;
const MIN = 60_000;
const V_OLD = "1.2.0";
const V_NEW = 1_003_000;
const sizes = (name: string, fallback: string) => (process.env[name] ?? fallback).split(",").map(Number);
const START_SIZES = sizes("FLEET_SERVICE_HEALTH_SIZES", "10000,50000");
const [INGEST_DEVICES] = sizes("FLEET_SERVICE_HEALTH_INGEST_DEVICES", "10000");
const FLEET_SIZES = sizes("FLEET_SERVICE_HEALTH_FLEET_SIZES", "1000,10000,50000");
const FLEET_SIZE_MESSAGES = 20_000;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ENC = new TextEncoder();

/** The modules of one checkout, compiled from its sources. */
async function loadSide(root: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-health-bench-"));
  const entry = path.join(dir, `side-${path.basename(root)}.ts`);
  const from = (m: string) => JSON.stringify(path.join(root, m));
  fs.writeFileSync(entry, [
    `export { FleetService } from ${from("service/fleet-service")};`,
    `export { ProactiveSupport } from ${from("service/health/module")};`,
    `export { parseRules } from ${from("service/health/config")};`,
    `export { openDatabase } from ${from("service/db/open")};`,
    `export { DEFAULTS } from ${from("service/rollouts/spec")};`,
    `export { encodeTelemetryBatch } from ${from("device/core/telemetry/record")};`,
    `export { createBundle, keyPairFromSeed } from ${from("tools/ota/bundle")};`,
    `export { writeBundle } from ${from("tools/ota/bundle-files")};`,
    `export { nodeSha256 } from ${from("device/platform/node/sha256")};`,
  ].join("\n"));
  const compiled = await compileTs(entry, { outFile: path.join(repoRoot, "node_modules", ".cache", "tether-bench", `fleet-service-health-${path.basename(dir)}.mjs`) });
  fs.rmSync(dir, { recursive: true, force: true });
  return import(compiled);
}
type Side = Awaited<ReturnType<typeof loadSide>>;
type Service = InstanceType<Side["FleetService"]>;
type Proactive = InstanceType<Side["ProactiveSupport"]>;

const id = (d: number) => `dev-${String(d).padStart(5, "0")}`;

class Clock {
  t = EPOCH;
  now = () => this.t;
  setTimeout = () => 0;
  clearTimeout = () => {};
}

const nullTransport = () => ({ onBatch() {}, async start() {}, async publish() {}, connected: () => true, async close() {} });

async function startService(m: Side, db: unknown, clock: Clock): Promise<{ service: Service; p: Proactive }> {
  const service = new m.FleetService({ db, clock, transport: nullTransport(), rollouts: { tickMs: 5_000, healthEveryMs: 1e15 } });
  const p = new m.ProactiveSupport(service, m.parseRules({}));
  await service.use(p);
  await service.start();
  return { service, p };
}

/** One device's telemetry batch (payload); `intervalSec` undefined = firmware without key 15. */
function telemetry(m: Side, d: number, seq: number, intervalSec: number | undefined, clock: Clock) {
  const up = 6 * 3_600_000 + seq * (intervalSec ?? 60) * 1000;
  return {
    topic: `tether/${id(d)}/telemetry`, retain: false,
    payload: m.encodeTelemetryBatch({
      deviceId: id(d), seq, firmware: V_OLD, slot: 0, resetReason: "power-on", timeBase: "uptime", madeAtMs: up, uptimeMs: up,
      link: { state: "online", reconnects: 1 }, battery: { mv: 3900, pct: 80, status: 0, dropBpPerHour: 61, timeToEmptyMin: 5000 },
      samples: [{ tMs: up, temperatureCentiC: 2150, humidityPermille: 456, rssiDbm: -67 }],
      ...(intervalSec !== undefined ? { reportIntervalSec: intervalSec } : {}),
    }),
  };
}

/** Hands `messages` to the ingest in transactions of BATCH; returns messages/s and CPU µs per message. */
function ingestAll(service: Service, messages: { topic: string; retain: boolean; payload: Uint8Array }[], clock: Clock) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += BATCH) {
    clock.t += 1;
    service.ingest.handle(messages.slice(i, i + BATCH));
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { rate: (messages.length * 1000) / ms, cpuUs: (cpu.user + cpu.system) / messages.length };
}

function bundleDir(m: Side): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-health-bench-bundle-"));
  const { secretKey } = m.keyPairFromSeed(new Uint8Array(32).fill(7));
  m.writeBundle(dir, m.createBundle(ENC.encode("firmware".padEnd(1500, ".")), { version: V_NEW, hardwareId: "tether-devkit", securityCounter: 1, blockSize: 1024 }, secretKey, m.nodeSha256));
  return dir;
}

const rolloutSpec = (m: Side, bundle: string) => ({
  bundle, target: "firmware < 1.3.0", canary: 20, waves: [5, 25, 100], ratePerMinute: 600, maxFailurePct: 5, minExecuted: 20, timeoutMs: 1_800_000,
  soakMs: 0, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3, health: { ...m.DEFAULTS.health },
});

/** Three devices in four announce their interval (60 s, or 240 s from the third batch for one in ten); the rest are older firmware. */
const intervalOf = (d: number, seq: number) => (d % 4 === 3 ? undefined : seq >= 3 && d % 10 === 0 ? 240 : 60);

/** A fleet of `n` known devices (3 batches each), as the real ingest path writes it. */
async function knownFleet(m: Side, n: number, db: unknown, clock: Clock) {
  const { service, p } = await startService(m, db, clock);
  service.db.transaction(() => {
    for (let d = 0; d < n; d++) service.registry.setLabels(id(d), { group: `g${d % 4}`, hardware: d % 3 === 0 ? "B" : "A" }, clock.t);
  })();
  for (let seq = 1; seq <= 3; seq++) {
    const msgs = [];
    for (let d = 0; d < n; d++) msgs.push(telemetry(m, d, seq, intervalOf(d, seq), clock));
    ingestAll(service, msgs, clock);
    clock.t += MIN;
  }
  return { service, p };
}

async function buildStartDb(m: Side, n: number, file: string, bundle: string) {
  const clock = new Clock();
  const { service } = await knownFleet(m, n, file, clock);
  const first = service.rollouts.create(rolloutSpec(m, bundle)).id;
  service.rollouts.command(first, "cancel");
  service.rollouts.create(rolloutSpec(m, bundle));
  for (let i = 0; i < 6; i++) {
    clock.t += 5_000;
    service.rollouts.tickAll();
  }
  // What a restart must restore: the stored rows (every device sent telemetry, so each has one).
  const rows = service.db.prepare("SELECT device_id, announced_ms, learned_ms FROM device_intervals").all() as { device_id: string; announced_ms: number | null; learned_ms: number }[];
  if (rows.length !== n) throw new Error(`${rows.length} interval rows for ${n} devices`);
  const expected = new Map(rows.map((r) => [r.device_id, { announcedIntervalMs: r.announced_ms ?? undefined, intervalMs: r.learned_ms }]));
  const telemetryRows = (service.db.prepare("SELECT count(*) AS n FROM telemetry").get() as { n: number }).n;
  const database = { devices: n, telemetryRows, intervalRows: rows.length, rollouts: "1 cancelled + 1 live, each over every device" };
  await service.close();
  return { expected, database, at: clock.t + MIN };
}

function stats(v: number[], digits = 1) {
  const s = [...v].sort((a, b) => a - b);
  const f = 10 ** digits;
  const r = (x: number) => Math.round(x * f) / f;
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}

async function startSection(sides: { name: string; m: Side }[], dir: string) {
  const out: Record<string, unknown> = {};
  for (const n of START_SIZES) {
    const file = path.join(dir, `start-${n}.db`);
    const bundle = bundleDir(sides[sides.length - 1].m);
    const built = await buildStartDb(sides[sides.length - 1].m, n, file, bundle);
    const times: Record<string, { openMs: number[]; startMs: number[]; totalMs: number[] }> = {};
    for (const s of sides) times[s.name] = { openMs: [], startMs: [], totalMs: [] };
    for (let round = 0; round <= ROUNDS; round++) {
      for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
        const copy = path.join(dir, `copy-${s.name}.db`);
        fs.copyFileSync(file, copy);
        const clock = new Clock();
        clock.t = built.at;
        const t0 = performance.now();
        const db = s.m.openDatabase(copy);
        const t1 = performance.now();
        const { service, p } = await startService(s.m, db, clock);
        const t2 = performance.now();
        // Every device restored with its intervals (both sides must agree with what was stored).
        if (p.engine.deviceCount !== n) throw new Error(`${s.name}: ${p.engine.deviceCount} of ${n} devices seeded`);
        for (const [dev, e] of built.expected) {
          const got = p.engine.snapshot(dev)!;
          if (got.announcedIntervalMs !== e.announcedIntervalMs || got.intervalMs !== e.intervalMs) throw new Error(`${s.name}: ${dev} restored ${got.announcedIntervalMs}/${got.intervalMs}, stored ${e.announcedIntervalMs}/${e.intervalMs}`);
        }
        await service.close();
        fs.rmSync(copy, { force: true });
        if (round === 0) continue;
        times[s.name].openMs.push(t1 - t0);
        times[s.name].startMs.push(t2 - t1);
        times[s.name].totalMs.push(t2 - t0);
      }
    }
    out[`devices${n}`] = {
      database: { ...built.database, fileMiB: Math.round(fs.statSync(file).size / 1048576) },
      ...Object.fromEntries(sides.map((s) => [s.name, {
        openDatabaseMs: stats(times[s.name].openMs), serviceAndHealthStartMs: stats(times[s.name].startMs), totalMs: stats(times[s.name].totalMs),
      }])),
    };
    fs.rmSync(file, { force: true });
    fs.rmSync(bundle, { recursive: true, force: true });
  }
  return out;
}

/** The interval store writing nothing: the "without" peer (the same service otherwise). */
function withoutIntervalStore(p: Proactive): void {
  Object.assign(p.engine, { intervals: { put() {}, get() { return undefined; } } });
}

async function intervalStoreSection(sides: { name: string; m: Side }[], dir: string) {
  const combos = sides.flatMap((s) => [true, false].map((store) => ({ side: s, store, key: `${s.name}.${store ? "withStore" : "withoutStore"}` })));
  const rates: Record<string, { steady: number[]; worst: number[]; steadyCpuUs: number[]; worstCpuUs: number[]; rowsWrittenWorst: number }> = {};
  for (const c of combos) rates[c.key] = { steady: [], worst: [], steadyCpuUs: [], worstCpuUs: [], rowsWrittenWorst: 0 };
  for (let round = 0; round <= ROUNDS; round++) {
    const order = round % 2 === 0 ? combos : [...combos].reverse();
    for (const c of order) {
      const m = c.side.m;
      const clock = new Clock();
      const file = path.join(dir, `ingest-${c.key}-${round}.db`);
      const { service, p } = await startService(m, file, clock);
      if (!c.store) withoutIntervalStore(p);
      // Two batches per device first: every interval known (and written, with the store).
      for (let seq = 1; seq <= 2; seq++) {
        ingestAll(service, Array.from({ length: INGEST_DEVICES }, (_, d) => telemetry(m, d, seq, 60, clock)), clock);
        clock.t += MIN;
      }
      const steadyMsgs = [];
      for (let seq = 3; seq <= 4; seq++) for (let d = 0; d < INGEST_DEVICES; d++) steadyMsgs.push(telemetry(m, d, seq, 60, clock));
      const steady = ingestAll(service, steadyMsgs, clock);
      const worstFrom = clock.t;
      // Worst case: each batch announces another interval than the one before (120 s, then 60 s).
      const worstMsgs = [];
      for (let seq = 5; seq <= 6; seq++) for (let d = 0; d < INGEST_DEVICES; d++) worstMsgs.push(telemetry(m, d, seq, seq === 5 ? 120 : 60, clock));
      const worst = ingestAll(service, worstMsgs, clock);
      if (c.store) {
        const q = "SELECT count(*) AS n FROM device_intervals WHERE announced_ms = 60000 AND updated_at > ?";
        const rewritten = (service.db.prepare(q).get(worstFrom) as { n: number }).n;
        if (rewritten !== INGEST_DEVICES) throw new Error(`${c.key}: ${rewritten} of ${INGEST_DEVICES} rows rewritten in the worst case`);
      }
      if (service.ingest.stats.telemetry !== 6 * INGEST_DEVICES) throw new Error(`${c.key}: ingested ${service.ingest.stats.telemetry}`);
      await service.close();
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}-wal`, { force: true });
      fs.rmSync(`${file}-shm`, { force: true });
      if (round === 0) continue;
      const r = rates[c.key];
      r.steady.push(steady.rate);
      r.worst.push(worst.rate);
      r.steadyCpuUs.push(steady.cpuUs);
      r.worstCpuUs.push(worst.cpuUs);
      r.rowsWrittenWorst = c.store ? 2 * INGEST_DEVICES : 0;
    }
  }
  const out: Record<string, unknown> = {};
  for (const c of combos) {
    const r = rates[c.key];
    out[c.key] = {
      steadyMessagesPerSec: stats(r.steady, 0), steadyCpuMicrosecondsPerMessage: stats(r.steadyCpuUs),
      worstMessagesPerSec: stats(r.worst, 0), worstCpuMicrosecondsPerMessage: stats(r.worstCpuUs), intervalRowsWrittenInWorstCase: r.rowsWrittenWorst,
    };
  }
  return out;
}

async function fleetSizeSection(sides: { name: string; m: Side }[], dir: string) {
  const fleets = [];
  const bundle = bundleDir(sides[sides.length - 1].m);
  for (const { name, m } of sides) for (const n of FLEET_SIZES) {
    const clock = new Clock();
    const file = path.join(dir, `fleet-${name}-${n}.db`);
    const built = await knownFleet(m, n, file, clock);
    const rid = built.service.rollouts.create(rolloutSpec(m, bundle)).id;
    // The rollout far along (written into its rows, then the service restarts and loads it): in its
    // last wave, every device succeeded but 20 still queued (offered by the next ticks, never
    // answering) and one ambiguous rejection (105, cause 6) alone in its stratum (hardware "C"),
    // which can never be lifted, so every tick looks again for successes in that stratum.
    const db = built.service.db;
    db.transaction(() => {
      db.prepare("UPDATE rollouts SET wave = 3, wave_started_at = ?, wave_succeeded_at = NULL WHERE id = ?").run(clock.t, rid);
      db.prepare("UPDATE rollout_devices SET state = 'succeeded', result = 1, offers = 1, offered_at = ?, progress_at = ?, detail = NULL WHERE rollout_id = ? AND position > 20").run(clock.t - 3_600_000, clock.t - 3_600_000, rid);
      db.prepare("UPDATE rollout_devices SET state = 'queued', result = NULL, offers = 0, offered_at = NULL, progress_at = NULL, detail = NULL WHERE rollout_id = ? AND position BETWEEN 1 AND 20").run(rid);
      db.prepare("UPDATE rollout_devices SET state = 'ambiguous', result = 105, cause = 6, offers = 1, offered_at = ?, progress_at = NULL, detail = NULL WHERE rollout_id = ? AND position = 0").run(clock.t - 3_600_000, rid);
      db.prepare("UPDATE devices SET hardware = 'C' WHERE id = (SELECT device_id FROM rollout_devices WHERE rollout_id = ? AND position = 0)").run(rid);
    })();
    await built.service.close();
    clock.t += MIN;
    const { service } = await startService(m, file, clock);
    fleets.push({ name, m, n, service, clock, seq: 4, next: 0, perMsgUs: [] as number[], tickMs: [] as number[], rid });
  }
  for (let round = 0; round <= ROUNDS; round++) {
    for (const f of round % 2 === 0 ? fleets : [...fleets].reverse()) {
      const msgs = [];
      for (let i = 0; i < FLEET_SIZE_MESSAGES; i++) {
        msgs.push(telemetry(f.m, f.next, f.seq, intervalOf(f.next, f.seq), f.clock));
        if (++f.next === f.n) (f.next = 0), f.seq++;
      }
      const r = ingestAll(f.service, msgs, f.clock);
      f.clock.t += 5_000;
      const t = performance.now();
      f.service.rollouts.tickAll();
      const tick = performance.now() - t;
      if (round === 0) continue;
      f.perMsgUs.push(r.cpuUs);
      f.tickMs.push(tick);
    }
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const f of fleets) {
    const st = f.service.rollouts.status(f.rid) as { status: string; counts: { byState: Record<string, number> } };
    if (st.status !== "running" || st.counts.byState.ambiguous !== 1) throw new Error(`${f.name} devices${f.n}: rollout ${st.status} ${JSON.stringify(st.counts.byState)}`);
    (out[f.name] ??= {})[`devices${f.n}`] = { steadyCpuMicrosecondsPerMessage: stats(f.perMsgUs), rolloutTickMs: stats(f.tickMs, 2), rolloutAtEnd: st.counts.byState };
    await f.service.close();
  }
  fs.rmSync(bundle, { recursive: true, force: true });
  return out;
}

export default async function measure() {
  const baselineRoot = process.env.FLEET_SERVICE_BASELINE ? path.resolve(process.env.FLEET_SERVICE_BASELINE) : undefined;
  const roots = baselineRoot ? { baseline: baselineRoot, current: repoRoot } : { current: repoRoot };
  const sides = await Promise.all(Object.entries(roots).map(async ([name, root]) => ({ name, m: await loadSide(root) })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-health-bench-"));
  const load0 = os.loadavg()[0];
  try {
    const start = await startSection(sides, dir);
    const intervalStore = await intervalStoreSection(sides, dir);
    const fleetSize = await fleetSizeSection(sides, dir);
    return {
      parameters: {
        rounds: ROUNDS, warmup: 1, batch: BATCH, startSizes: START_SIZES, ingestDevices: INGEST_DEVICES, fleetSizes: FLEET_SIZES, fleetSizeMessagesPerRound: FLEET_SIZE_MESSAGES,
        sqlite: "WAL, synchronous=NORMAL, files in os.tmpdir()",
      },
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverage1mAtStart: load0, loadAverage1mAtEnd: os.loadavg()[0] },
      baselineCheckout: baselineRoot ? { dir: baselineRoot, is: process.env.FLEET_SERVICE_BASELINE_IS ?? "not said" } : "none (set FLEET_SERVICE_BASELINE)",
      start,
      intervalStore,
      fleetSize,
      note:
        "start: openDatabase (PRAGMA quick_check, migrations) and then FleetService + ProactiveSupport construction and start() (registry, rollouts, health seeding), on a copy of the file per start; every device's restored intervals are checked on both sides. " +
        "intervalStore: withoutStore = the same service with the interval store's writes replaced by nothing; steady = 2 batches per device that change no interval; worst = 2 batches per device that each announce another interval (one row each). " +
        "fleetSize: CPU per steady-state telemetry message and one rollout tick with that many known devices, each in a live rollout in its last wave (all succeeded but 20 offered that never answer and 1 ambiguous rejection alone in its stratum).",
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

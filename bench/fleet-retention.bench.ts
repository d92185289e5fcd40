/**
 * The fleet database's growth costs (a benchmark, not a test):
 *
 * 1. Start-up check: opening a cleanly closed database (header and schema read, the default)
 *    against the full `PRAGMA quick_check` (`--check-db`, or after an unclean shutdown), at
 *    1 M and 5 M telemetry rows. The 1 M rows come from the real ingest path (Ingest.handle,
 *    10,000 devices, 100 reports each); the 5 M database is that one plus four copies of its
 *    telemetry rows with later sequence numbers and times (INSERT ... SELECT: the same row
 *    shapes, made in seconds instead of the ingest path's minutes).
 * 2. The prune's cost on ingest: 40,000 reports from 10,000 known devices into a database
 *    holding 200,000 telemetry rows past the horizon, with a prune pass (RetentionJob.runOnce,
 *    default batch) after every 10 ingest batches of 500 (the catch-up cadence, worse than
 *    steady state) against none, and the duration of one pass (what one ingest batch can wait).
 *
 * Rounds: 1 warm-up then 5 measured, the peers interleaved in each round; min/median/max.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeTelemetryBatch } from "../device/core/telemetry/record";
import type { ServiceClock } from "../service/clock";
import { openDatabase } from "../service/db/open";
import { DEFAULT_RETENTION, RetentionJob } from "../service/db/retention";
import { Ingest } from "../service/registry/ingest";

const DEVICES = 10_000;
const ROUNDS = 5;
const BATCH = 500;
const EPOCH = 1_795_000_000_000;
const DAY = 86_400_000;
const SIZES = [1_000_000, 5_000_000];
const OLD_ROWS = 200_000;
const MESSAGES = 40_000;
const PRUNE_EVERY_BATCHES = 10;

function report(d: number, seq: number, t: number) {
  const id = `dev-${String(d).padStart(5, "0")}`;
  return {
    topic: `tether/${id}/telemetry`,
    retain: false,
    payload: encodeTelemetryBatch({
      deviceId: id, seq, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: t, uptimeMs: seq * 60_000,
      link: { state: "online", reconnects: 1 }, battery: { mv: 3900, pct: 80 - (seq % 50), status: 0, dropBpPerHour: 61, timeToEmptyMin: 5000 },
      samples: [{ tMs: t, temperatureCentiC: 2150, humidityPermille: 456, rssiDbm: -67 }],
    }),
  };
}

function stats(v: number[], digits = 0) {
  const s = [...v].sort((a, b) => a - b);
  const f = 10 ** digits;
  const r = (x: number) => Math.round(x * f) / f;
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}

/** `perDevice` reports from every device through the ingest path, one a minute per device, from `startMs`. */
function ingestHistory(file: string, clock: { t: number }, perDevice: number, seq0: number, startMs: number): void {
  const c: ServiceClock = { now: () => clock.t, setTimeout: () => 0, clearTimeout: () => {} };
  const db = openDatabase(file);
  const ingest = new Ingest(db, c);
  let batch = [];
  for (let s = 0; s < perDevice; s++) {
    for (let d = 0; d < DEVICES; d++) {
      clock.t = startMs + s * 60_000 + Math.floor((d * 60_000) / DEVICES);
      batch.push(report(d, seq0 + s, clock.t));
      if (batch.length === BATCH) {
        ingest.handle(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) ingest.handle(batch);
  db.close();
}

const mib = (file: string) => Math.round((fs.statSync(file).size / 1048576) * 10) / 10;

export default async function measure() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-bench-retention-"));
  try {
    // ---- 1. start-up check
    const startup: Record<string, unknown> = {};
    const base = path.join(dir, "history.db");
    const clock = { t: EPOCH };
    ingestHistory(base, clock, SIZES[0] / DEVICES, 1, EPOCH);
    for (const rows of SIZES) {
      const file = path.join(dir, `fleet-${rows}.db`);
      fs.copyFileSync(base, file);
      if (rows > SIZES[0]) {
        const db = openDatabase(file);
        for (let k = 1; k < rows / SIZES[0]; k++) {
          db.exec(`INSERT INTO telemetry SELECT device_id, seq + ${k * 100_000}, received_at + ${k * 100 * 60_000}, made_at, wall, firmware, uptime_ms, reset_reason, battery_pct,
                   battery_mv, battery_status, drop_bp_per_hour, time_to_empty_min, reconnects, rssi_dbm, samples, samples_dropped FROM telemetry WHERE seq < 100000`);
        }
        db.close();
      }
      const check = openDatabase(file);
      const n = (check.prepare("SELECT count(*) AS n FROM telemetry").get() as { n: number }).n;
      check.close();
      if (n !== rows) throw new Error(`${file}: ${n} telemetry rows, expected ${rows}`);
      const cheap: number[] = [];
      const full: number[] = [];
      for (let round = 0; round <= ROUNDS; round++) {
        for (const fullCheck of [false, true]) {
          const t0 = performance.now();
          openDatabase(file, { fullCheck }).close();
          const ms = performance.now() - t0;
          if (round > 0) (fullCheck ? full : cheap).push(ms);
        }
      }
      startup[`telemetryRows${rows}`] = { fileMiB: mib(file), openMs: stats(cheap, 2), openWithFullCheckMs: stats(full, 1) };
      fs.rmSync(file);
    }
    fs.rmSync(base);

    // ---- 2. the prune's cost on ingest
    const pruneBase = path.join(dir, "old.db");
    const now0 = EPOCH + 60 * DAY;
    ingestHistory(pruneBase, { t: 0 }, OLD_ROWS / DEVICES, 1, EPOCH); // 60 days before now: past the 30-day horizon
    const withPrune: number[] = [];
    const without: number[] = [];
    const passMs: number[] = [];
    let pruned = 0;
    for (let round = 0; round <= ROUNDS; round++) {
      for (const prune of [false, true]) {
        const file = path.join(dir, `round-${round}-${prune}.db`);
        fs.copyFileSync(pruneBase, file);
        let t = now0;
        const c: ServiceClock = { now: () => t, setTimeout: () => 0, clearTimeout: () => {} };
        const db = openDatabase(file);
        const ingest = new Ingest(db, c);
        const job = new RetentionJob(db, c, DEFAULT_RETENTION);
        const msgs = [];
        for (let i = 0; i < MESSAGES; i++) msgs.push(report(i % DEVICES, 1000 + round * 10 + Math.floor(i / DEVICES), now0 + i));
        const t0 = performance.now();
        for (let i = 0, b = 0; i < msgs.length; i += BATCH, b++) {
          t = now0 + i;
          ingest.handle(msgs.slice(i, i + BATCH));
          if (prune && b % PRUNE_EVERY_BATCHES === PRUNE_EVERY_BATCHES - 1) {
            const p0 = performance.now();
            const counts = job.runOnce();
            if (round > 0) passMs.push(performance.now() - p0);
            pruned += counts.telemetry;
          }
        }
        const ms = performance.now() - t0;
        db.close();
        fs.rmSync(file);
        if (round > 0) (prune ? withPrune : without).push((MESSAGES * 1000) / ms);
      }
    }
    fs.rmSync(pruneBase);
    if (pruned === 0) throw new Error("the prune deleted nothing");

    return {
      parameters: { devices: DEVICES, rounds: ROUNDS, warmup: 1, batch: BATCH, sizes: SIZES, oldRows: OLD_ROWS, messages: MESSAGES, pruneEveryBatches: PRUNE_EVERY_BATCHES, pruneBatchRows: DEFAULT_RETENTION.batchRows, sqlite: "WAL, synchronous=NORMAL, file in os.tmpdir() (page cache warm after the warm-up round)" },
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      startup,
      ingestMessagesPerSec: stats(without),
      ingestWithPruneMessagesPerSec: stats(withPrune),
      prunePassMs: stats(passMs, 2),
      note: "startup: openDatabase of a cleanly closed file (header + schema + migrations) vs the same with fullCheck (PRAGMA quick_check over every page). 1 M telemetry rows via Ingest.handle; 5 M = those plus 4 shifted copies (INSERT ... SELECT). prune: a RetentionJob.runOnce (≤ 2,000 rows per table, one transaction each) after every 10 ingest batches of 500 while 200,000 rows are past the 30-day horizon; prunePassMs is one pass, the longest an ingest batch waits for it",
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The fleet service's ingest (a benchmark, not a test): telemetry messages per second from
 * MQTT PUBLISH bytes (parsed with device/core's parser, as the service's transport does)
 * through decoding, dedupe and the registry update into SQLite (WAL, one transaction per
 * batch), against a plain INSERT loop of the same rows in the same run as the floor; and the
 * CPU the service needs for 10,000 devices reporting every 60 s (the ingest path plus the
 * rollout runner's tick over a 10,000-device rollout every 5 s).
 *
 * Rounds: 1 warm-up then 5 measured, ingest and plain INSERT interleaved; min/median/max.
 * Ingest is measured twice per round: into a fresh database, then with every device known.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodePublish, type Packet } from "../device/core/mqtt/codec";
import { MqttParser } from "../device/core/mqtt/parser";
import { encodeTelemetryBatch } from "../device/core/telemetry/record";
import { openDatabase } from "../service/db/open";
import { Ingest } from "../service/registry/ingest";
import type { ServiceClock } from "../service/clock";
import { RolloutDevices } from "../service/rollouts/device-index";
import { step, waveEnds, type RolloutState } from "../service/rollouts/machine";
import { DEFAULTS, type RolloutSpec } from "../service/rollouts/spec";

const DEVICES = 10_000;
const MESSAGES = 40_000;
const BATCH = 500;
const ROUNDS = 5;
const EPOCH = 1_795_000_000_000;

function payloads(round: number, part = 0): { topic: string; payload: Uint8Array }[] {
  const out = [];
  for (let i = 0; i < MESSAGES; i++) {
    const d = i % DEVICES;
    const seq = round * 1000 + part * (MESSAGES / DEVICES) + Math.floor(i / DEVICES) + 1;
    const id = `dev-${String(d).padStart(5, "0")}`;
    const t = EPOCH + seq * 60_000;
    out.push({
      topic: `tether/${id}/telemetry`,
      payload: encodeTelemetryBatch({
        deviceId: id, seq, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: t, uptimeMs: seq * 60_000,
        link: { state: "online", reconnects: 1 }, battery: { mv: 3900, pct: 80 - (seq % 50), status: 0, dropBpPerHour: 61, timeToEmptyMin: 5000 },
        samples: [{ tMs: t, temperatureCentiC: 2150, humidityPermille: 456, rssiDbm: -67 }],
      }),
    });
  }
  return out;
}

function stats(v: number[]) {
  const s = [...v].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x);
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}

export default async function measure() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-bench-fleet-"));
  let now = EPOCH;
  const clock: ServiceClock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const ingestRates: number[] = [];
  const steadyRates: number[] = [];
  const plainRates: number[] = [];
  const cpuPerMessageUs: number[] = [];
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      const msgs = payloads(round);
      // -- the service's ingest: parse PUBLISH bytes, then one transaction per batch. First into a
      // fresh database (a quarter of the messages are a device's first), then as many again into
      // the same one (every device known: the steady state of a running service).
      const db = openDatabase(path.join(dir, `ingest-${round}.db`));
      const ingest = new Ingest(db, clock);
      const run = (list: { topic: string; payload: Uint8Array }[]) => {
        const frames = list.map((m, i) => encodePublish({ topic: m.topic, payload: m.payload, qos: 1, packetId: (i % 65535) + 1 }));
        const packets: Packet[] = [];
        const parser = new MqttParser((p) => packets.push(p), (e) => { throw new Error(e); }, { maxPacketSize: 1 << 20 });
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < frames.length; i += BATCH) {
          for (let j = i; j < Math.min(frames.length, i + BATCH); j++) parser.push(frames[j]);
          const batch = packets.splice(0).map((p) => ({ topic: (p as { topic: string }).topic, payload: (p as { payload: Uint8Array }).payload, retain: false }));
          now += 1;
          ingest.handle(batch);
        }
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        return { rate: (list.length * 1000) / ms, cpuUs: (cpu.user + cpu.system) / list.length };
      };
      const fresh = run(msgs);
      const steady = run(payloads(round, 1));
      if (ingest.stats.telemetry !== 2 * MESSAGES) throw new Error(`ingested ${ingest.stats.telemetry} of ${2 * MESSAGES}`);
      db.close();
      // -- the floor: the same rows by a plain INSERT loop, same batching
      const pdb = openDatabase(path.join(dir, `plain-${round}.db`), { migrations: [{ name: "plain", sql: "CREATE TABLE t (device_id TEXT, seq INTEGER, received_at INTEGER, payload BLOB)" }] });
      const ins = pdb.prepare("INSERT INTO t (device_id, seq, received_at, payload) VALUES (?, ?, ?, ?)");
      const tx = pdb.transaction((from: number) => {
        for (let j = from; j < Math.min(msgs.length, from + BATCH); j++) ins.run(msgs[j].topic, j, now, msgs[j].payload);
      });
      const t0 = performance.now();
      for (let i = 0; i < msgs.length; i += BATCH) tx(i);
      const plainMs = performance.now() - t0;
      pdb.close();
      if (round === 0) continue; // warm-up
      ingestRates.push(fresh.rate);
      steadyRates.push(steady.rate);
      plainRates.push((MESSAGES * 1000) / plainMs);
      cpuPerMessageUs.push(steady.cpuUs);
    }

    // -- the rollout runner's tick over a 10,000-device rollout (pure step, all queued/deferred)
    const spec: RolloutSpec = { bundle: "b", version: 1_003_000, hardwareId: "hw", target: "firmware < 1.3.0", canary: 20, waves: [5, 25, 100], ratePerMinute: 100,
      maxFailurePct: 5, minExecuted: 20, timeoutMs: 1_800_000, soakMs: 7_200_000, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3, health: { ...DEFAULTS.health } };
    const ends = waveEnds(DEVICES, spec.canary, spec.waves);
    const devices = new RolloutDevices();
    for (let i = 0; i < DEVICES; i++) {
      devices.set(`d${i}`, { deviceId: `d${i}`, position: i, wave: ends.findIndex((e) => i < e), state: i < 500 ? "succeeded" : "queued", result: null, cause: null, fromVersion: 1_002_000,
        offeredAt: i < 500 ? 0 : null, offers: i < 500 ? 1 : 0, progressAt: null, updatedAt: 0, retries: 0, interrupted: 0, detail: null, rollbackAt: null, rollbackResult: null });
    }
    const r: RolloutState = { id: "r0001", spec, status: "running", wave: 2, waveEnds: ends, waveStartedAt: 0, waveSucceededAt: null, haltRule: null, haltDetail: null, updatedAt: 0, finishedAt: null };
    const facts = () => ({ online: true, batteryPct: 80, batteryStatus: 0, busy: false, firmwareNum: 1_002_000 });
    const tickMs: number[] = [];
    for (let i = 0; i <= ROUNDS; i++) {
      const t = performance.now();
      step(r, devices, { type: "tick", now: 10_000_000 + i * 60_000, facts });
      if (i > 0) tickMs.push(performance.now() - t);
    }
    const perMsgUs = stats(cpuPerMessageUs);
    const tick = stats(tickMs.map((x) => x * 1000));
    // 10,000 devices at one report per 60 s = 166.7 messages/s; a tick every 5 s.
    const msgsPerSec = DEVICES / 60;
    const cpuPct = (us: number, tickUs: number) => Math.round(((us * msgsPerSec + tickUs / 5) / 1e6) * 1000) / 10;
    return {
      parameters: { devices: DEVICES, messages: MESSAGES, batch: BATCH, rounds: ROUNDS, warmup: 1, sqlite: "WAL, synchronous=NORMAL, file in os.tmpdir()" },
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      ingestMessagesPerSec: stats(ingestRates),
      ingestKnownDevicesMessagesPerSec: stats(steadyRates),
      plainInsertRowsPerSec: stats(plainRates),
      ingestCpuMicrosecondsPerMessage: { min: Math.round(perMsgUs.min), median: Math.round(perMsgUs.median), max: Math.round(perMsgUs.max) },
      rolloutTickMicroseconds10kDevices: tick,
      cpuPercentOfOneCoreFor10kDevicesAt60s: { min: cpuPct(perMsgUs.min, tick.min), median: cpuPct(perMsgUs.median, tick.median), max: cpuPct(perMsgUs.max, tick.max) },
      note: "ingestMessagesPerSec: into a fresh database (each device's first report creates its row); ingestKnownDevicesMessagesPerSec: the next 40,000 into the same database. CPU per 10,000 devices = ingest CPU per message with known devices (MQTT parse + decode + SQLite) × 166.7 msg/s + one rollout tick every 5 s; the socket read and the HTTP API are not included (bench/fleet-service-process.bench.ts measures the whole process)",
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The telemetry batch: one MQTT message on tether/<deviceId>/telemetry carrying several
 * sensor samples plus the device, link and battery state at the time it was built.
 * Wire format: a CBOR map with small integer keys and scaled integers only (no floats);
 * docs/protocol/telemetry.md has the CDDL. Decoders ignore unknown keys, so fields can be
 * added later without breaking old backends; a key is never reused with another meaning.
 */
import type { MemorySample, ResetReason } from "../../ports";
import { cborDecode } from "../util/cbor";
import { readBatchFast, readBatchSeqAndAlarm } from "./batch-reader";
import { CborWriter, headSize, MAJOR_ARRAY, MAJOR_MAP, MAJOR_UINT } from "./cbor-writer";
import { setErrorName } from "../util/error-name";

// ---------------------------------------------------------------- wire constants
export const TELEMETRY_FORMAT = 1;
/** Fits one TCP segment (MSS 1460) with the MQTT header and topic, and a small MCU heap. */
export const TELEMETRY_MAX_BYTES = 1024;

/** Batch map keys. */
export const K = {
  format: 0,
  deviceId: 1,
  seq: 2,
  firmware: 3,
  slot: 4,
  resetReason: 5,
  timeBase: 6,
  baseSec: 7,
  madeAtMs: 8,
  uptimeSec: 9,
  link: 10,
  battery: 11,
  samples: 12,
  samplesDropped: 13,
  memory: 14,
  reportIntervalSec: 15,
} as const;
/** Bounds of key 15, the reporting interval in force (s): the agent's 100 ms..1 day, rounded up. */
export const REPORT_INTERVAL_SEC_MIN = 1;
export const REPORT_INTERVAL_SEC_MAX = 86400;
/** Sample map keys. */
export const KS = { offsetMs: 0, temperatureCentiC: 1, humidityPermille: 2, rssiDbm: 3 } as const;
/** Link map keys. */
export const KL = { state: 0, reconnects: 1, queued: 2, dropped: 3, oversized: 4 } as const;
/** Battery map keys. */
export const KB = { mv: 0, pct: 1, status: 2, alarm: 3, dropBpPerHour: 4, timeToEmptyMin: 5 } as const;
/** Memory map keys: the XS heaps (ports.ts MemorySample). */
export const KM = { slotsUsed: 0, slotsFree: 1, chunkBytesUsed: 2, chunkBytesFree: 3 } as const;

export const RESET_REASON_CODES: readonly ResetReason[] = [
  "unknown", "power-on", "software", "watchdog", "panic", "brownout", "deep-sleep", "external",
];
export type TimeBase = "uptime" | "wall";
export const TIME_BASES: readonly TimeBase[] = ["uptime", "wall"];
export type LinkState = "offline" | "connecting" | "online" | "backoff";
export const LINK_STATE_CODES: readonly LinkState[] = ["offline", "connecting", "online", "backoff"];
export type BatteryAlarm = "none" | "low" | "critical";
export const BATTERY_ALARM_CODES: readonly BatteryAlarm[] = ["none", "low", "critical"];

/** LwM2M /3 (Device) resource 20 "Battery Status". */
export const BATTERY_STATUS = {
  normal: 0,
  charging: 1,
  chargeComplete: 2,
  damaged: 3,
  low: 4,
  notInstalled: 5,
  unknown: 6,
} as const;
export type BatteryStatusCode = 0 | 1 | 2 | 3 | 4 | 5 | 6;

// ---------------------------------------------------------------- the record
export interface TelemetrySample {
  /** When sampled, in the batch's time base (unix ms or ms since boot). */
  tMs: number;
  temperatureCentiC?: number;
  humidityPermille?: number;
  rssiDbm?: number;
}

export interface LinkStats {
  state: LinkState;
  /** Reconnects since boot. */
  reconnects: number;
  /** Messages waiting in the offline queue. */
  queued?: number;
  /** Messages the offline queue dropped (oldest first) since it was created. */
  dropped?: number;
  /** Incoming messages skipped since boot for being over the packet limit (sent when > 0). */
  oversized?: number;
}

export interface BatteryReport {
  mv: number;
  /** State of charge, whole %. */
  pct: number;
  status: BatteryStatusCode;
  alarm?: BatteryAlarm;
  /** Measured discharge rate in 0.01 %/h; only present while discharging and known. */
  dropBpPerHour?: number;
  /** Estimated minutes until brown-out; only present while discharging and known. */
  timeToEmptyMin?: number;
}

export interface TelemetryBatch {
  deviceId: string;
  /** Per-device message sequence number (persisted across reboots by the agent). */
  seq: number;
  firmware: string;
  slot: 0 | 1;
  resetReason: ResetReason;
  /** "wall": times are unix ms (clock synced); "uptime": ms since boot (not yet synced). */
  timeBase: TimeBase;
  /** When the batch was built, in the time base. */
  madeAtMs: number;
  uptimeMs: number;
  link?: LinkStats;
  battery?: BatteryReport;
  /** The script engine's heaps when the batch was built (boards only). */
  memory?: MemorySample;
  samples: TelemetrySample[];
  /** Samples lost since the last batch: buffer overflow, or a sensor value outside the wire ranges. */
  samplesDropped?: number;
  /**
   * The reporting interval in force when the batch was built (s): the delay the agent arms its
   * next report with, stretched while the battery is low. Absent from older firmware.
   */
  reportIntervalSec?: number;
}

export class TelemetryError extends Error {
  constructor(readonly code: "invalid" | "too-large" | "decode", message: string) {
    super(message);
    setErrorName(this, "TelemetryError");
  }
}

// ---------------------------------------------------------------- encode
const U32_MAX = 0xffffffff;

function checkUint(name: string, v: unknown, max = U32_MAX): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new TelemetryError("invalid", `${name} must be an integer in 0..${max}, got ${String(v)}`);
  }
  return v;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new TelemetryError("invalid", `${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function codeOf<T>(name: string, table: readonly T[], v: T): number {
  const i = table.indexOf(v);
  if (i < 0) throw new TelemetryError("invalid", `${name} "${String(v)}" is not one of ${table.join(", ")}`);
  return i;
}

const checkTemperature = (v: number) => checkInt("temperatureCentiC", v, -27315, 100000);
const checkHumidity = (v: number) => checkInt("humidityPermille", v, 0, 1000);
const checkRssi = (v: number) => checkInt("rssiDbm", v, -200, 0);

/**
 * Throws TelemetryError("invalid") when a sample's values are outside the wire ranges: the
 * checks writeSample makes, in its order, without writing (every sample comes here).
 */
export function checkSample(s: TelemetrySample): void {
  checkUint("sample offset", s.tMs - s.tMs);
  if (s.temperatureCentiC !== undefined) checkTemperature(s.temperatureCentiC);
  if (s.humidityPermille !== undefined) checkHumidity(s.humidityPermille);
  if (s.rssiDbm !== undefined) checkRssi(s.rssiDbm);
}

/*
 * The batch is written straight to CBOR (cbor-writer.ts), byte for byte what cbor-x wrote for
 * the Map form it replaces: keys 0..11 as present, then 14 (memory), 15 (reportIntervalSec),
 * 13 (samplesDropped) and 12 (samples), the order that form inserted them in. Every field is checked before the batch is returned.
 */

let sharedWriter: CborWriter | undefined;

/**
 * One reused buffer: a batch is copied out as soon as it is written (one agent at a time runs).
 * Made at first use, not at module load: on the board the bundle is preloaded, and a buffer made
 * while preloading is frozen into flash, so every write to it throws "read-only buffer".
 */
function batchWriter(): CborWriter {
  return (sharedWriter ??= new CborWriter(TELEMETRY_MAX_BYTES + 64));
}

function writeSample(w: CborWriter, s: TelemetrySample, baseMs: number): void {
  const offset = checkUint("sample offset", s.tMs - baseMs);
  const t = s.temperatureCentiC;
  const h = s.humidityPermille;
  const r = s.rssiDbm;
  w.head(MAJOR_MAP, 1 + (t !== undefined ? 1 : 0) + (h !== undefined ? 1 : 0) + (r !== undefined ? 1 : 0));
  w.head(MAJOR_UINT, KS.offsetMs);
  w.head(MAJOR_UINT, offset);
  if (t !== undefined) {
    w.head(MAJOR_UINT, KS.temperatureCentiC);
    w.int(checkTemperature(t));
  }
  if (h !== undefined) {
    w.head(MAJOR_UINT, KS.humidityPermille);
    w.int(checkHumidity(h));
  }
  if (r !== undefined) {
    w.head(MAJOR_UINT, KS.rssiDbm);
    w.int(checkRssi(r));
  }
}

/** Writes `key` then the unsigned `value`. */
function field(w: CborWriter, key: number, value: number): void {
  w.head(MAJOR_UINT, key);
  w.head(MAJOR_UINT, value);
}

/** Writes the batch map's head and every entry before the samples (key 12 comes last). */
function writeHeader(w: CborWriter, b: TelemetryBatch, baseMs: number): void {
  if (typeof b.deviceId !== "string" || b.deviceId.length === 0 || b.deviceId.length > 64) {
    throw new TelemetryError("invalid", "deviceId must be a string of 1..64 characters");
  }
  if (typeof b.firmware !== "string" || b.firmware.length > 32) {
    throw new TelemetryError("invalid", "firmware must be a string of at most 32 characters");
  }
  if (b.slot !== 0 && b.slot !== 1) throw new TelemetryError("invalid", `slot must be 0 or 1, got ${String(b.slot)}`);
  const link = b.link;
  const battery = b.battery;
  const memory = b.memory;
  const interval = b.reportIntervalSec;
  const dropped = b.samplesDropped !== undefined && b.samplesDropped > 0;
  // format..uptimeSec (10), link, battery, memory, reportIntervalSec, samplesDropped, samples.
  w.head(
    MAJOR_MAP,
    11 + (link !== undefined ? 1 : 0) + (battery !== undefined ? 1 : 0) + (memory !== undefined ? 1 : 0) + (interval !== undefined ? 1 : 0) + (dropped ? 1 : 0),
  );
  field(w, K.format, TELEMETRY_FORMAT);
  w.head(MAJOR_UINT, K.deviceId);
  w.text(b.deviceId);
  field(w, K.seq, checkUint("seq", b.seq));
  w.head(MAJOR_UINT, K.firmware);
  w.text(b.firmware);
  field(w, K.slot, b.slot);
  field(w, K.resetReason, codeOf("resetReason", RESET_REASON_CODES, b.resetReason));
  field(w, K.timeBase, codeOf("timeBase", TIME_BASES, b.timeBase));
  field(w, K.baseSec, checkUint("base time (s)", baseMs / 1000));
  field(w, K.madeAtMs, checkUint("madeAt offset", b.madeAtMs - baseMs));
  field(w, K.uptimeSec, checkUint("uptime (s)", Math.floor(checkUint("uptimeMs", b.uptimeMs, Number.MAX_SAFE_INTEGER) / 1000)));
  if (link !== undefined) {
    const state = codeOf("link.state", LINK_STATE_CODES, link.state);
    const reconnects = checkUint("link.reconnects", link.reconnects);
    const queued = link.queued !== undefined ? checkUint("link.queued", link.queued) : undefined;
    const dropped = link.dropped !== undefined ? checkUint("link.dropped", link.dropped) : undefined;
    const oversized = link.oversized ? checkUint("link.oversized", link.oversized) : undefined;
    w.head(MAJOR_UINT, K.link);
    w.head(MAJOR_MAP, 2 + (queued !== undefined ? 1 : 0) + (dropped !== undefined ? 1 : 0) + (oversized !== undefined ? 1 : 0));
    field(w, KL.state, state);
    field(w, KL.reconnects, reconnects);
    if (queued !== undefined) field(w, KL.queued, queued);
    if (dropped !== undefined) field(w, KL.dropped, dropped);
    if (oversized !== undefined) field(w, KL.oversized, oversized);
  }
  if (battery !== undefined) {
    const x = battery;
    const mv = checkUint("battery.mv", x.mv, 65535);
    const pct = checkUint("battery.pct", x.pct, 100);
    const status = checkUint("battery.status", x.status, 6);
    const alarm = x.alarm !== undefined ? codeOf("battery.alarm", BATTERY_ALARM_CODES, x.alarm) : undefined;
    const drop = x.dropBpPerHour !== undefined ? checkUint("battery.dropBpPerHour", x.dropBpPerHour, 10000) : undefined;
    const tte = x.timeToEmptyMin !== undefined ? checkUint("battery.timeToEmptyMin", x.timeToEmptyMin) : undefined;
    w.head(MAJOR_UINT, K.battery);
    w.head(MAJOR_MAP, 3 + (alarm !== undefined ? 1 : 0) + (drop !== undefined ? 1 : 0) + (tte !== undefined ? 1 : 0));
    field(w, KB.mv, mv);
    field(w, KB.pct, pct);
    field(w, KB.status, status);
    if (alarm !== undefined) field(w, KB.alarm, alarm);
    if (drop !== undefined) field(w, KB.dropBpPerHour, drop);
    if (tte !== undefined) field(w, KB.timeToEmptyMin, tte);
  }
  if (memory !== undefined) {
    const su = checkUint("memory.slotsUsed", memory.slotsUsed);
    const sf = checkUint("memory.slotsFree", memory.slotsFree);
    const cu = checkUint("memory.chunkBytesUsed", memory.chunkBytesUsed);
    const cf = checkUint("memory.chunkBytesFree", memory.chunkBytesFree);
    w.head(MAJOR_UINT, K.memory);
    w.head(MAJOR_MAP, 4);
    field(w, KM.slotsUsed, su);
    field(w, KM.slotsFree, sf);
    field(w, KM.chunkBytesUsed, cu);
    field(w, KM.chunkBytesFree, cf);
  }
  if (interval !== undefined) field(w, K.reportIntervalSec, checkInt("reportIntervalSec", interval, REPORT_INTERVAL_SEC_MIN, REPORT_INTERVAL_SEC_MAX));
  if (dropped) field(w, K.samplesDropped, checkUint("samplesDropped", b.samplesDropped));
  w.head(MAJOR_UINT, K.samples);
}

/** The whole-second base every offset in the batch counts from (the earliest time, floored). */
function baseMsOf(b: TelemetryBatch, count: number): number {
  let min = b.madeAtMs;
  for (let i = 0; i < count; i++) if (b.samples[i].tMs < min) min = b.samples[i].tMs;
  if (typeof min !== "number" || !Number.isInteger(min) || min < 0) {
    throw new TelemetryError("invalid", `times must be non-negative integers, got ${String(min)}`);
  }
  return Math.floor(min / 1000) * 1000;
}

/**
 * How many of `batch.samples`, taken from the front, fit in one message of at most
 * `maxBytes`. 0 means not even one sample fits after the header (the header alone may fit).
 * Throws TelemetryError("invalid") on a bad field.
 */
export function fitSamples(batch: TelemetryBatch, maxBytes = TELEMETRY_MAX_BYTES): number {
  // Offsets depend on the base, which depends on which samples are in: size each prefix
  // with the base of the whole list, then confirm (a later base only shrinks offsets).
  const w = batchWriter();
  let n = batch.samples.length;
  for (;;) {
    const baseMs = baseMsOf(batch, n);
    w.reset();
    writeHeader(w, batch, baseMs);
    let size = w.length + headSize(0); // with an empty samples array
    let fit = 0;
    for (let i = 0; i < n; i++) {
      w.reset();
      writeSample(w, batch.samples[i], baseMs);
      const s = w.length;
      if (size + s + headSize(fit + 1) - headSize(0) > maxBytes) break;
      size += s;
      fit++;
    }
    if (fit === n) return n;
    n = fit;
    if (n === 0) return 0;
  }
}

/**
 * Encodes a batch with all its samples. Throws TelemetryError("too-large") when the result
 * exceeds `maxBytes` (use fitSamples to split) and TelemetryError("invalid") on a bad field.
 */
export function encodeTelemetryBatch(batch: TelemetryBatch, maxBytes = TELEMETRY_MAX_BYTES): Uint8Array {
  if (!Array.isArray(batch.samples)) throw new TelemetryError("invalid", "samples must be an array");
  const samples = batch.samples;
  const baseMs = baseMsOf(batch, samples.length);
  const w = batchWriter();
  w.reset();
  writeHeader(w, batch, baseMs);
  w.head(MAJOR_ARRAY, samples.length);
  for (let i = 0; i < samples.length; i++) writeSample(w, samples[i], baseMs);
  if (w.length > maxBytes) {
    throw new TelemetryError("too-large", `batch is ${w.length} bytes, limit ${maxBytes}`);
  }
  return w.bytes();
}

// ---------------------------------------------------------------- decode
function asMap(name: string, v: unknown): Map<unknown, unknown> {
  if (!(v instanceof Map)) throw new TelemetryError("decode", `${name} must be a CBOR map`);
  return v;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(-Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

function need(m: Map<unknown, unknown>, key: number, name: string, min: number, max: number): number {
  const v = num(m.get(key));
  if (v === undefined || !Number.isInteger(v) || v < min || v > max) {
    throw new TelemetryError("decode", `${name} (key ${key}) must be an integer in ${min}..${max}`);
  }
  return v;
}

function opt(m: Map<unknown, unknown>, key: number, name: string, min: number, max: number): number | undefined {
  return m.has(key) ? need(m, key, name, min, max) : undefined;
}

function text(m: Map<unknown, unknown>, key: number, name: string): string {
  const v = m.get(key);
  if (typeof v !== "string") throw new TelemetryError("decode", `${name} (key ${key}) must be a text string`);
  return v;
}

/** Decodes and validates one batch; throws TelemetryError("decode") with the reason. */
export function decodeTelemetryBatch(bytes: Uint8Array): TelemetryBatch {
  // The shape our writer makes is read directly; anything else (and every error) goes the general way.
  return readBatchFast(bytes, RESET_REASON_CODES, TIME_BASES) ?? decodeTelemetryBatchGeneral(bytes);
}

/**
 * The sequence number and battery alarm of a batch, exactly as decodeTelemetryBatch gives them
 * (batch.seq, batch.battery?.alarm), for a backend that needs nothing else: a batch in the
 * writer's shape is checked in full but not built. Throws TelemetryError("decode") likewise.
 */
export function decodeTelemetrySeqAndAlarm(bytes: Uint8Array): { seq: number; alarm: BatteryAlarm | undefined } {
  const packed = readBatchSeqAndAlarm(bytes, RESET_REASON_CODES, TIME_BASES);
  if (packed < 0) {
    const b = decodeTelemetryBatchGeneral(bytes);
    return { seq: b.seq, alarm: b.battery?.alarm };
  }
  const code = packed % 4;
  return { seq: (packed - code) / 4, alarm: code === 3 ? undefined : BATTERY_ALARM_CODES[code] };
}

/** The general path: any CBOR encoding of a batch (cbor-x), unknown keys skipped, precise errors. */
export function decodeTelemetryBatchGeneral(bytes: Uint8Array): TelemetryBatch {
  let raw: unknown;
  try {
    raw = cborDecode(bytes);
  } catch (e) {
    throw new TelemetryError("decode", `not CBOR: ${(e as Error).message}`);
  }
  const m = asMap("batch", raw);
  const format = need(m, K.format, "format", 0, U32_MAX);
  if (format !== TELEMETRY_FORMAT) throw new TelemetryError("decode", `unsupported format ${format}`);
  const baseMs = need(m, K.baseSec, "baseSec", 0, U32_MAX) * 1000;
  const timeBase = TIME_BASES[need(m, K.timeBase, "timeBase", 0, TIME_BASES.length - 1)];
  const rr = need(m, K.resetReason, "resetReason", 0, U32_MAX);
  const batch: TelemetryBatch = {
    deviceId: text(m, K.deviceId, "deviceId"),
    seq: need(m, K.seq, "seq", 0, U32_MAX),
    firmware: text(m, K.firmware, "firmware"),
    slot: need(m, K.slot, "slot", 0, 1) as 0 | 1,
    // A reset reason added by newer firmware reads as "unknown" rather than failing.
    resetReason: RESET_REASON_CODES[rr] ?? "unknown",
    timeBase,
    madeAtMs: baseMs + need(m, K.madeAtMs, "madeAtMs", 0, U32_MAX),
    uptimeMs: need(m, K.uptimeSec, "uptimeSec", 0, U32_MAX) * 1000,
    samples: [],
  };
  if (m.has(K.link)) {
    const l = asMap("link", m.get(K.link));
    const link: LinkStats = {
      state: LINK_STATE_CODES[need(l, KL.state, "link.state", 0, LINK_STATE_CODES.length - 1)],
      reconnects: need(l, KL.reconnects, "link.reconnects", 0, U32_MAX),
    };
    const queued = opt(l, KL.queued, "link.queued", 0, U32_MAX);
    if (queued !== undefined) link.queued = queued;
    const dropped = opt(l, KL.dropped, "link.dropped", 0, U32_MAX);
    if (dropped !== undefined) link.dropped = dropped;
    const oversized = opt(l, KL.oversized, "link.oversized", 0, U32_MAX);
    if (oversized !== undefined) link.oversized = oversized;
    batch.link = link;
  }
  if (m.has(K.battery)) {
    const b = asMap("battery", m.get(K.battery));
    const battery: BatteryReport = {
      mv: need(b, KB.mv, "battery.mv", 0, 65535),
      pct: need(b, KB.pct, "battery.pct", 0, 100),
      status: need(b, KB.status, "battery.status", 0, 6) as BatteryStatusCode,
    };
    const alarm = opt(b, KB.alarm, "battery.alarm", 0, BATTERY_ALARM_CODES.length - 1);
    if (alarm !== undefined) battery.alarm = BATTERY_ALARM_CODES[alarm];
    const drop = opt(b, KB.dropBpPerHour, "battery.dropBpPerHour", 0, 10000);
    if (drop !== undefined) battery.dropBpPerHour = drop;
    const tte = opt(b, KB.timeToEmptyMin, "battery.timeToEmptyMin", 0, U32_MAX);
    if (tte !== undefined) battery.timeToEmptyMin = tte;
    batch.battery = battery;
  }
  if (m.has(K.memory)) {
    const x = asMap("memory", m.get(K.memory));
    batch.memory = {
      slotsUsed: need(x, KM.slotsUsed, "memory.slotsUsed", 0, U32_MAX),
      slotsFree: need(x, KM.slotsFree, "memory.slotsFree", 0, U32_MAX),
      chunkBytesUsed: need(x, KM.chunkBytesUsed, "memory.chunkBytesUsed", 0, U32_MAX),
      chunkBytesFree: need(x, KM.chunkBytesFree, "memory.chunkBytesFree", 0, U32_MAX),
    };
  }
  const interval = opt(m, K.reportIntervalSec, "reportIntervalSec", REPORT_INTERVAL_SEC_MIN, REPORT_INTERVAL_SEC_MAX);
  if (interval !== undefined) batch.reportIntervalSec = interval;
  const dropped = opt(m, K.samplesDropped, "samplesDropped", 0, U32_MAX);
  if (dropped !== undefined) batch.samplesDropped = dropped;
  const list = m.get(K.samples);
  if (!Array.isArray(list)) throw new TelemetryError("decode", `samples (key ${K.samples}) must be an array`);
  for (let i = 0; i < list.length; i++) {
    const s = asMap(`sample ${i}`, list[i]);
    const sample: TelemetrySample = { tMs: baseMs + need(s, KS.offsetMs, `sample ${i} offset`, 0, U32_MAX) };
    const t = opt(s, KS.temperatureCentiC, `sample ${i} temperature`, -27315, 100000);
    if (t !== undefined) sample.temperatureCentiC = t;
    const h = opt(s, KS.humidityPermille, `sample ${i} humidity`, 0, 1000);
    if (h !== undefined) sample.humidityPermille = h;
    const r = opt(s, KS.rssiDbm, `sample ${i} rssi`, -200, 0);
    if (r !== undefined) sample.rssiDbm = r;
    batch.samples.push(sample);
  }
  return batch;
}

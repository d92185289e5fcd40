/**
 * The fast path of decodeTelemetryBatch (record.ts): reads a batch in the shape the batch writer
 * makes, straight from the bytes, without cbor-x's generic Maps. It returns undefined at the
 * first thing outside that shape (an unknown or repeated key, a float, tag, 8-byte head or
 * indefinite length, non-ASCII text, truncation, trailing bytes) and at any value the general
 * path would refuse; decodeTelemetryBatch then takes the general path, which gives the precise
 * error or reads what this does not. So whenever this returns a batch it is the one the general
 * path returns (test/telemetry/batch-codec.test.ts checks both on random and mutated bytes).
 *
 * readBatchSeqAndAlarm runs the same reader with every check but builds nothing (no strings,
 * samples, link or battery objects): a backend that only counts batches by sequence number
 * (the virtual fleet's) reads every message without paying for what it does not look at.
 */
import type { MemorySample } from "../../ports";
import type { BatteryReport, LinkStats, TelemetryBatch, TelemetrySample } from "./record";

const U32_MAX = 0xffffffff;
const MAJOR_UINT = 0;
const MAJOR_NEGINT = 1;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
/** Additional information above this (8-byte, reserved, indefinite) is not in the writer's shape. */
const AI_MAX = 26;
/** Bounds of key 15, reportIntervalSec (record.ts REPORT_INTERVAL_SEC_MIN/MAX; not imported: record.ts imports this module). */
const REPORT_INTERVAL_SEC_MIN = 1;
const REPORT_INTERVAL_SEC_MAX = 86400;
/** Marks "not read": every reader below returns it instead of throwing. */
const NO = -1;

// One batch is read at a time (synchronously), so the cursor lives here, not in an object.
let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
/** False while readBatchSeqAndAlarm runs: check everything, build nothing. */
let build = true;
/** The battery alarm code readBattery saw (ALARM_ABSENT: none sent). */
let alarmCode = 0;
const ALARM_ABSENT = 3;

/** The argument of a head of `major` (0..2^32-1), or NO. */
function arg(major: number): number {
  if (pos >= buf.length) return NO;
  const ib = buf[pos];
  if (ib >> 5 !== major) return NO;
  const ai = ib & 31;
  if (ai < 24) {
    pos += 1;
    return ai;
  }
  if (ai > AI_MAX) return NO;
  const n = ai === 24 ? 1 : ai === 25 ? 2 : 4;
  if (pos + 1 + n > buf.length) return NO;
  let v = 0;
  for (let k = 1; k <= n; k++) v = v * 256 + buf[pos + k];
  pos += 1 + n;
  return v;
}

/** An unsigned integer in 0..max, or NO. */
function uint(max: number): number {
  const v = arg(MAJOR_UINT);
  return v > max ? NO : v;
}

/** An integer in min..max (min < 0), or NaN. */
function int(min: number, max: number): number {
  if (pos >= buf.length) return NaN;
  let v: number;
  if (buf[pos] >> 5 === MAJOR_NEGINT) {
    const a = arg(MAJOR_NEGINT);
    v = a === NO ? NaN : -1 - a;
  } else {
    const a = arg(MAJOR_UINT);
    v = a === NO ? NaN : a;
  }
  return v >= min && v <= max ? v : NaN;
}

/** ASCII text, or undefined. */
function ascii(): string | undefined {
  const n = arg(MAJOR_TEXT);
  if (n === NO || pos + n > buf.length) return undefined;
  let s = "";
  for (let k = pos; k < pos + n; k++) {
    const c = buf[k];
    if (c >= 0x80) return undefined;
    if (build) s += String.fromCharCode(c);
  }
  pos += n;
  return s;
}

function readLink(): LinkStats | undefined {
  const n = arg(MAJOR_MAP);
  if (n === NO) return undefined;
  let seen = 0;
  let state = NO;
  let reconnects = NO;
  let queued = NO;
  let dropped = NO;
  let oversized = NO;
  for (let i = 0; i < n; i++) {
    const key = uint(4);
    if (key === NO || seen & (1 << key)) return undefined;
    seen |= 1 << key;
    const v = uint(key === 0 ? 3 : U32_MAX);
    if (v === NO) return undefined;
    if (key === 0) state = v;
    else if (key === 1) reconnects = v;
    else if (key === 2) queued = v;
    else if (key === 3) dropped = v;
    else oversized = v;
  }
  if (state === NO || reconnects === NO) return undefined;
  if (!build) return NOT_BUILT_LINK;
  const link: LinkStats = { state: LINK_STATES[state], reconnects };
  if (queued !== NO) link.queued = queued;
  if (dropped !== NO) link.dropped = dropped;
  if (oversized !== NO) link.oversized = oversized;
  return link;
}
const LINK_STATES = ["offline", "connecting", "online", "backoff"] as const;
/** What the build-nothing pass returns for a link map it checked (never handed out). */
const NOT_BUILT_LINK: LinkStats = { state: "offline", reconnects: 0 };
const NOT_BUILT_BATTERY: BatteryReport = { mv: 0, pct: 0, status: 0 };

const BATTERY_MAX = [65535, 100, 6, 2, 10000, U32_MAX];
/** readBattery's values by key, reused: one batch is read at a time. */
const batteryScratch = [NO, NO, NO, NO, NO, NO];
const ALARMS = ["none", "low", "critical"] as const;

function readBattery(): BatteryReport | undefined {
  const n = arg(MAJOR_MAP);
  if (n === NO) return undefined;
  let seen = 0;
  const v = batteryScratch;
  v.fill(NO);
  for (let i = 0; i < n; i++) {
    const key = uint(5);
    if (key === NO || seen & (1 << key)) return undefined;
    seen |= 1 << key;
    v[key] = uint(BATTERY_MAX[key]);
    if (v[key] === NO) return undefined;
  }
  if (v[0] === NO || v[1] === NO || v[2] === NO) return undefined;
  alarmCode = v[3] === NO ? ALARM_ABSENT : v[3];
  if (!build) return NOT_BUILT_BATTERY;
  const battery: BatteryReport = { mv: v[0], pct: v[1], status: v[2] as BatteryReport["status"] };
  if (v[3] !== NO) battery.alarm = ALARMS[v[3]];
  if (v[4] !== NO) battery.dropBpPerHour = v[4];
  if (v[5] !== NO) battery.timeToEmptyMin = v[5];
  return battery;
}

/** The memory map: all four keys (0..3), each once. */
function readMemory(): MemorySample | undefined {
  if (arg(MAJOR_MAP) !== 4) return undefined;
  let seen = 0;
  const v = [NO, NO, NO, NO];
  for (let i = 0; i < 4; i++) {
    const key = uint(3);
    if (key === NO || seen & (1 << key)) return undefined;
    seen |= 1 << key;
    v[key] = uint(U32_MAX);
    if (v[key] === NO) return undefined;
  }
  return { slotsUsed: v[0], slotsFree: v[1], chunkBytesUsed: v[2], chunkBytesFree: v[3] };
}

function readSamples(baseMs: number, out: TelemetrySample[]): boolean {
  const count = arg(MAJOR_ARRAY);
  if (count === NO) return false;
  for (let i = 0; i < count; i++) {
    const n = arg(MAJOR_MAP);
    if (n === NO) return false;
    let seen = 0;
    let offset = NO;
    let t = NaN;
    let h = NaN;
    let r = NaN;
    for (let j = 0; j < n; j++) {
      const key = uint(3);
      if (key === NO || seen & (1 << key)) return false;
      seen |= 1 << key;
      if (key === 0) {
        offset = uint(U32_MAX);
        if (offset === NO) return false;
      } else if (key === 1) {
        t = int(-27315, 100000);
        if (t !== t) return false;
      } else if (key === 2) {
        h = uint(1000);
        if (h === NO) return false;
      } else {
        r = int(-200, 0);
        if (r !== r) return false;
      }
    }
    if (offset === NO) return false;
    if (!build) continue;
    const sample: TelemetrySample = { tMs: baseMs + offset };
    if (seen & 2) sample.temperatureCentiC = t;
    if (seen & 4) sample.humidityPermille = h;
    if (seen & 8) sample.rssiDbm = r;
    out.push(sample);
  }
  return true;
}

// What readTopLevel leaves behind for its caller. Reused (one batch is read at a time), so the
// build-nothing pass allocates nothing per message.
/** Top-level integer values by key (NO: absent). */
const n = [NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO];
let deviceId: string | undefined;
let firmware: string | undefined;
let link: LinkStats | undefined;
let battery: BatteryReport | undefined;
let memory: MemorySample | undefined;
/** Where the build pass puts the samples (a fresh array per batch: it is handed out). */
let samples: TelemetrySample[] = [];
/** The build-nothing pass's sample list: readSamples never pushes to it. */
const NO_SAMPLES: TelemetrySample[] = [];
/** Required keys: format, deviceId, seq, firmware, slot, resetReason, timeBase, baseSec, madeAt, uptime, samples. */
const REQUIRED_KEYS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 12);

/** Reads and checks the whole batch into the state above; false: take the general path. */
function readTopLevel(): boolean {
  const entries = arg(MAJOR_MAP);
  if (entries === NO) return false;
  let seen = 0;
  n.fill(NO);
  deviceId = firmware = undefined;
  link = undefined;
  battery = undefined;
  memory = undefined;
  samples = build ? [] : NO_SAMPLES;
  for (let i = 0; i < entries; i++) {
    const key = uint(15);
    if (key === NO || seen & (1 << key)) return false;
    seen |= 1 << key;
    if (key === 1 || key === 3) {
      const s = ascii();
      if (s === undefined) return false;
      if (key === 1) deviceId = s;
      else firmware = s;
    } else if (key === 10) {
      link = readLink();
      if (link === undefined) return false;
    } else if (key === 11) {
      battery = readBattery();
      if (battery === undefined) return false;
    } else if (key === 14) {
      memory = readMemory();
      if (memory === undefined) return false;
    } else if (key === 12) {
      // Offsets count from baseSec, which the writer puts first; otherwise take the general path.
      if ((seen & (1 << 7)) === 0 || !readSamples(n[7] * 1000, samples)) return false;
    } else {
      n[key] = uint(key === 4 || key === 6 ? 1 : key === 15 ? REPORT_INTERVAL_SEC_MAX : U32_MAX);
      if (n[key] === NO || (key === 15 && n[key] < REPORT_INTERVAL_SEC_MIN)) return false;
    }
  }
  if (pos !== buf.length) return false;
  // Every key seen was read whole (a bad one returned above), so the bits say what is present.
  return n[0] === 1 && (seen & REQUIRED_KEYS) === REQUIRED_KEYS;
}

/** Points the reader at `bytes`, reads the batch, lets go of `bytes`; true when it is in the fast shape. */
function readAll(bytes: Uint8Array): boolean {
  buf = bytes;
  pos = 0;
  alarmCode = ALARM_ABSENT;
  try {
    return readTopLevel();
  } finally {
    buf = EMPTY; // do not keep the message alive
  }
}
const EMPTY = new Uint8Array(0);

/**
 * Reads one batch, or returns undefined (take the general path). `resetReasons` and
 * `timeBases` are record.ts's code tables (passed in: record.ts imports this module).
 */
export function readBatchFast(
  bytes: Uint8Array,
  resetReasons: readonly TelemetryBatch["resetReason"][],
  timeBases: readonly TelemetryBatch["timeBase"][],
): TelemetryBatch | undefined {
  if (!readAll(bytes)) return undefined;
  const baseMs = n[7] * 1000;
  const batch: TelemetryBatch = {
    deviceId: deviceId as string,
    seq: n[2],
    firmware: firmware as string,
    slot: n[4] as 0 | 1,
    resetReason: resetReasons[n[5]] ?? "unknown",
    timeBase: timeBases[n[6]],
    madeAtMs: baseMs + n[8],
    uptimeMs: n[9] * 1000,
    samples,
  };
  if (link !== undefined) batch.link = link;
  if (battery !== undefined) batch.battery = battery;
  if (memory !== undefined) batch.memory = memory;
  if (n[15] !== NO) batch.reportIntervalSec = n[15];
  if (n[13] !== NO) batch.samplesDropped = n[13];
  // Hand nothing of the last batch to the next read.
  samples = NO_SAMPLES;
  deviceId = firmware = undefined;
  link = undefined;
  battery = undefined;
  memory = undefined;
  return batch;
}

/**
 * seq · 4 + the battery alarm code (0 none, 1 low, 2 critical, 3 not sent) of a batch that
 * readBatchFast reads, after the same checks; -1 where readBatchFast declines (decode it in full).
 */
export function readBatchSeqAndAlarm(
  bytes: Uint8Array,
  resetReasons: readonly TelemetryBatch["resetReason"][],
  timeBases: readonly TelemetryBatch["timeBase"][],
): number {
  build = false;
  try {
    // The code tables only name what the build pass puts in the batch: nothing here.
    return readAll(bytes) ? n[2] * 4 + alarmCode : -1;
  } finally {
    build = true;
  }
}

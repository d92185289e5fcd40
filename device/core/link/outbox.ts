/**
 * The outbox: every telemetry record from the moment it is made until the broker acknowledges
 * it, persisted in the KV port, bounded, sent in order. It replaces the offline queue plus the
 * client's persistent in-flight store, which wrote each record 4–6 times; here a record costs
 * one KV write when it is made and one delete when its PUBACK arrives, nothing in between.
 *
 * Layout (NVS-friendly: keys ≤ 15 chars, one value ≤ 4000 bytes):
 *   "ob<n mod 10000>"  record n: [n u32][topic len u16][topic][payload]
 *   "obd"              dropped count, u32; written only when a record is dropped, cut-safe
 *                      (util/cut-safe-kv.ts: its shadow "~obd" exists only during the rewrite)
 * There is no meta record: the records carry their numbers, so load() rebuilds head and tail
 * from what it finds, and a record written just before a power cut is simply there.
 *
 * Packet ids live in RAM (the MQTT client's in-flight window). After a reboot every record
 * found may have been sent before, so it is resent with DUP = 1 (the safe side of 3.1.1 §4.4).
 * When full (capacity records waiting, not counting the few handed to the client, or the byte
 * budget), the oldest record not yet handed on is dropped and counted: nothing is lost silently.
 */
import { KV_VALUE_MAX, KvError, type KeyValueStore, type Log } from "../../ports";
import { TopicUtf8, utf8Decode } from "../mqtt/utf8";
import { readCutSafe, writeCutSafe } from "../util/cut-safe-kv";
import { setErrorName } from "../util/error-name";

export const OUTBOX_PREFIX = "ob";
export const OUTBOX_DROPPED_KEY = "obd";
/**
 * Record n lives under "ob" + (n mod 10000), whatever the capacity: a build with another
 * capacity (an OTA update) finds every record where it left it. Capacity stays below this.
 */
export const OUTBOX_KEY_SPACE = 10_000;
export const DEFAULT_OUTBOX_CAPACITY = 32;
/** Byte budget for records (KV values + NVS's ~32-byte entry overhead): leaves the rest of a 24 KiB NVS to others. */
export const DEFAULT_OUTBOX_MAX_BYTES = 8 * 1024;
/** The link's in-flight window (link.ts DEFAULT_INFLIGHT_WINDOW). */
export const DEFAULT_HANDED_MAX = 4;
const ENTRY_OVERHEAD = 32;
const REC_HEADER = 4 + 2;
export const OUTBOX_RECORD_MAX = KV_VALUE_MAX - REC_HEADER;

export interface OutboxRecord {
  /** Record number; increases by one per record made. */
  n: number;
  topic: string;
  payload: Uint8Array;
  /** Found in the KV at boot: it may have reached the broker before, so it goes out with DUP. */
  maybeSent: boolean;
}

export class OutboxError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "OutboxError");
  }
}

interface Entry {
  /** Record number. */
  n: number;
  size: number;
  /** Handed to the MQTT client (in its RAM window); never dropped to make room. */
  handed: boolean;
  maybeSent: boolean;
}

export class Outbox {
  private tail = 0;
  private droppedCount = 0;
  /**
   * Records present, in number order (push appends the next number; load inserts sorted). An
   * array, not a Map by number: the one acknowledged is nearly always the first, and a Map
   * emptied at every PUBACK reallocates its table.
   */
  private readonly entries: Entry[] = [];
  private bytes = 0;
  /** Records handed to the client: the capacity counts the others, as the old queue did. */
  private handedCount = 0;
  /** The record push() just wrote, so an immediate send need not read it back. */
  private recent: OutboxRecord | undefined;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly log: Log,
    readonly capacity = DEFAULT_OUTBOX_CAPACITY,
    readonly maxBytes = DEFAULT_OUTBOX_MAX_BYTES,
    /** Most records the link hands to the client at once: found at boot, they are kept on top of the capacity. */
    readonly handedMax = DEFAULT_HANDED_MAX,
    /** The topic's UTF-8, shared with the MQTT client that sends these records. */
    private readonly topicUtf8 = new TopicUtf8(),
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 9999) throw new OutboxError(`outbox capacity ${capacity} not in 1..9999`);
    this.load();
  }

  /** Records not yet acknowledged (waiting or in flight). */
  get length(): number {
    return this.entries.length;
  }
  /** Records dropped (outbox full, storage refused, or unreadable after a reboot), ever. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Stores a new record (one KV write); when full, drops the oldest not yet handed on first
   * (counted). Throws OutboxError for a record too large for one KV value. A KV refusal (full)
   * drops older records to make room; if nothing can make room the new record is counted as dropped.
   */
  push(topic: string, payload: Uint8Array): number {
    const topicUtf8 = this.topicUtf8.bytes(topic);
    const topicBytes = topicUtf8.length;
    if (topicBytes === 0) throw new OutboxError("empty topic");
    if (REC_HEADER + topicBytes + payload.length > KV_VALUE_MAX) {
      throw new OutboxError(`record of ${topicBytes + payload.length} bytes exceeds ${OUTBOX_RECORD_MAX}`);
    }
    this.recent = undefined;
    const n = this.tail;
    const value = encodeRecord(n, topicUtf8, payload);
    const size = value.length + ENTRY_OVERHEAD;
    if (size > this.maxBytes) throw new OutboxError(`record of ${size} bytes exceeds the outbox budget of ${this.maxBytes}`);
    this.tail = n + 1;
    while ((this.entries.length - this.handedCount >= this.capacity || this.bytes + size > this.maxBytes) && this.dropOldest()) {
      // made room
    }
    for (;;) {
      try {
        this.kv.set(keyOf(n), value);
        break;
      } catch (e) {
        if (!(e instanceof KvError)) throw e; // not a storage refusal (e.g. a simulated power cut)
        // Only a full store is helped by dropping old records; an I/O error would otherwise
        // wipe the outbox one record at a time. Then only the new record is lost, counted.
        if (e.code !== "full" || !this.dropOldest()) {
          this.log("error", `outbox: record ${n} dropped, storage refused it: ${String(e)}`);
          this.countDrop(1);
          return n;
        }
      }
    }
    this.entries.push({ n, size, handed: false, maybeSent: false });
    this.bytes += size;
    // Only a topic that reads back exactly (ASCII without NUL) may skip the read-back.
    if (this.topicUtf8.readsBack) {
      this.recent = { n, topic, payload: value.subarray(REC_HEADER + topicBytes), maybeSent: false };
    }
    return n;
  }

  /**
   * The oldest record not yet handed to the client, or undefined. A record that can no longer
   * be read is dropped and counted.
   */
  nextToSend(): OutboxRecord | undefined {
    const recent = this.recent;
    this.recent = undefined;
    const entries = this.entries;
    for (let i = 0; i < entries.length; ) {
      const e = entries[i];
      const n = e.n;
      if (e.handed) {
        i++;
        continue;
      }
      if (recent !== undefined && recent.n === n) return recent;
      const raw = this.kv.get(keyOf(n));
      const r = raw ? decodeRecord(raw) : undefined;
      if (r && r.n === n) {
        r.maybeSent = e.maybeSent;
        return r;
      }
      this.log("error", `outbox: record ${n} unreadable, counted as dropped`);
      this.forget(n); // entries[i] is the next one now
      this.countDrop(1);
    }
    return undefined;
  }

  /** The record is in the client's in-flight window now (until its PUBACK, or a reboot). */
  markHanded(n: number): void {
    const e = this.entries[this.indexOf(n)];
    if (e && !e.handed) {
      e.handed = true;
      this.handedCount++;
    }
  }

  /** Its PUBACK came: the record is delivered, its one delete is the last write it costs. */
  acknowledge(n: number): boolean {
    this.recent = undefined;
    if (!this.forget(n)) return false;
    this.deleteKey(keyOf(n));
    return true;
  }

  /** Drops the oldest record not handed to the client; false when there is none. */
  private dropOldest(): boolean {
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e.handed) continue;
      const n = e.n;
      this.forget(n);
      // Counted before deleted: a cut between the two over-counts, never loses silently.
      this.countDrop(1);
      this.deleteKey(keyOf(n));
      this.log("warn", `outbox: full, dropped record ${n} (${this.droppedCount} dropped so far)`);
      return true;
    }
    return false;
  }

  /** Index of record n in `entries`, or -1 (binary search: they are in number order). */
  private indexOf(n: number): number {
    const entries = this.entries;
    let lo = 0;
    let hi = entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = entries[mid].n;
      if (m === n) return mid;
      if (m < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private forget(n: number): boolean {
    const i = this.indexOf(n);
    if (i < 0) return false;
    const e = this.entries[i];
    if (i === 0) this.entries.shift();
    else this.entries.splice(i, 1);
    this.bytes -= e.size;
    if (e.handed) this.handedCount--;
    return true;
  }

  private countDrop(k: number): void {
    this.droppedCount += k;
    try {
      writeCutSafe(this.kv, OUTBOX_DROPPED_KEY, u32(this.droppedCount));
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.log("error", `outbox: could not save the dropped count: ${String(e)}`);
    }
  }

  private deleteKey(key: string): void {
    try {
      this.kv.delete(key);
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.log("warn", `outbox: could not delete ${key}: ${String(e)}`);
    }
  }

  private load(): void {
    const d = readCutSafe(this.kv, OUTBOX_DROPPED_KEY);
    if (d && d.length === 4) this.droppedCount = getU32(d, 0);
    const found: { n: number; size: number }[] = [];
    const unreadable: string[] = [];
    // Regexes are made here, not at module level: a RegExp created while the ESP32 bundle is
    // preloaded crashes XS 8.2.3 after a GC (test/esp32/preload.test.ts).
    const recordKey = /^ob(0|[1-9][0-9]{0,3})$/;
    for (const key of this.kv.keys()) {
      const m = recordKey.exec(key);
      if (m === null) continue;
      const raw = this.kv.get(key);
      if (!raw) continue;
      const r = decodeRecord(raw);
      if (!r || r.n % OUTBOX_KEY_SPACE !== Number(m[1])) {
        this.log("warn", `outbox: unreadable record under ${key}, discarded`);
        unreadable.push(key);
        continue;
      }
      found.push({ n: r.n, size: raw.length + ENTRY_OVERHEAD });
    }
    found.sort((a, b) => a.n - b.n);
    // Up to capacity waiting plus the handed ones; a smaller capacity than the last build had keeps the newest.
    const over = found.splice(0, Math.max(0, found.length - this.capacity - this.handedMax));
    for (const f of found) {
      this.entries.push({ n: f.n, size: f.size, handed: false, maybeSent: true });
      this.bytes += f.size;
    }
    if (found.length > 0) this.tail = found[found.length - 1].n + 1;
    if (over.length + unreadable.length > 0) {
      this.log("error", `outbox: ${over.length + unreadable.length} records dropped at load (over capacity or unreadable)`);
      // Counted before deleted, as everywhere: a cut in between over-counts, never loses silently.
      this.countDrop(over.length + unreadable.length);
      for (const key of unreadable) this.kv.delete(key);
      for (const f of over) this.kv.delete(keyOf(f.n));
    }
    this.adoptLegacy();
  }

  /**
   * Records a build from before the outbox left behind (an OTA update from it): its in-flight
   * store ("mq" + 4 hex digits: [flags u8][order u32][topic len u16][topic][payload]) went out
   * first, then its offline queue ("oq<n>": the outbox's own record layout, meta "oqm").
   * Each is re-made here in that order, then its old key deleted: nothing is lost by updating.
   */
  private adoptLegacy(): void {
    const legacyInflight = /^mq[0-9a-f]{4}$/;
    const legacyQueue = /^oq(0|[1-9][0-9]{0,3})$/;
    const inflight: { order: number; key: string; raw: Uint8Array }[] = [];
    const queued: { n: number; key: string; raw: Uint8Array }[] = [];
    for (const key of this.kv.keys()) {
      const raw = key === LEGACY_QUEUE_META || legacyInflight.test(key) || legacyQueue.test(key) ? this.kv.get(key) : undefined;
      if (raw === undefined) continue;
      if (legacyInflight.test(key) && raw.length >= 7) inflight.push({ order: getU32(raw, 1), key, raw });
      else if (legacyQueue.test(key) && raw.length >= REC_HEADER) queued.push({ n: getU32(raw, 0), key, raw });
      else this.kv.delete(key);
    }
    if (inflight.length + queued.length === 0) return;
    inflight.sort((a, b) => a.order - b.order);
    queued.sort((a, b) => a.n - b.n);
    for (const { key, raw } of inflight) {
      const r = decodeRecord(Uint8Array.from([0, 0, 0, 0, ...raw.subarray(5)]));
      if (r) this.push(r.topic, r.payload);
      this.kv.delete(key);
    }
    for (const { key, raw } of queued) {
      const r = decodeRecord(raw);
      if (r) this.push(r.topic, r.payload);
      this.kv.delete(key);
    }
    for (const e of this.entries) e.maybeSent = true;
    this.log("info", `outbox: adopted ${inflight.length + queued.length} records from the previous layout`);
  }
}

const LEGACY_QUEUE_META = "oqm";

const keyOf = (n: number) => OUTBOX_PREFIX + String(n % OUTBOX_KEY_SPACE);

function u32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  putU32(out, 0, v);
  return out;
}

/** Big-endian u32 (as DataView.setUint32), written by hand: every record write comes here. */
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

function getU32(b: Uint8Array, at: number): number {
  return b[at] * 0x1000000 + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

/** `topic` is the topic's UTF-8. */
function encodeRecord(n: number, topic: Uint8Array, payload: Uint8Array): Uint8Array {
  const topicBytes = topic.length;
  const out = new Uint8Array(REC_HEADER + topicBytes + payload.length);
  putU32(out, 0, n);
  out[4] = topicBytes >> 8;
  out[5] = topicBytes & 0xff;
  out.set(topic, REC_HEADER);
  out.set(payload, REC_HEADER + topicBytes);
  return out;
}

function decodeRecord(raw: Uint8Array): OutboxRecord | undefined {
  if (raw.length < REC_HEADER) return undefined;
  const n = getU32(raw, 0);
  const tl = (raw[4] << 8) | raw[5];
  if (REC_HEADER + tl > raw.length) return undefined;
  const topic = utf8Decode(raw, REC_HEADER, REC_HEADER + tl);
  if (topic === undefined || topic.length === 0) return undefined;
  return { n, topic, payload: raw.slice(REC_HEADER + tl), maybeSent: true };
}

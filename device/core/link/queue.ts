/**
 * The offline queue: telemetry waiting for the broker, persisted in the KV port so it
 * survives a reboot, bounded, drained in order. When full, the oldest record is dropped and
 * counted: nothing is lost silently.
 *
 * Layout (NVS-friendly: keys ≤ 15 chars, one value ≤ 4000 bytes):
 *   "oqm"        meta: [head u32][tail u32][dropped u32]  (records are numbered head..tail-1)
 *   "oq<slot>"   record number n lives in slot n % capacity: [n u32][topic len u16][topic][payload]
 * Write order makes a power cut safe: a record is written before the meta that counts it, and
 * on load any record found at slot(tail) carrying number tail is adopted (the cut came between
 * the two writes). Records outside head..tail-1 are stale and ignored/deleted.
 */
import { KV_VALUE_MAX, KvError, type KeyValueStore, type Log } from "../../ports";
import { utf8Decode, utf8Length, utf8Write } from "../mqtt/utf8";

export const QUEUE_META_KEY = "oqm";
export const QUEUE_SLOT_PREFIX = "oq";
/**
 * Record n lives under "oq" + (n mod 10000), whatever the capacity: a build with another
 * capacity (an OTA update) finds every record where it left it. Capacity stays below this.
 */
export const QUEUE_KEY_SPACE = 10_000;
const SLOT_KEY = /^oq(0|[1-9][0-9]{0,3})$/;
export const DEFAULT_QUEUE_CAPACITY = 32;
/** Byte budget for records (KV values + NVS's ~32-byte entry overhead): leaves the rest of a 24 KiB NVS to others. */
export const DEFAULT_QUEUE_MAX_BYTES = 8 * 1024;
const ENTRY_OVERHEAD = 32;
const REC_HEADER = 4 + 2;
export const QUEUE_RECORD_MAX = KV_VALUE_MAX - REC_HEADER;

export interface QueuedRecord {
  /** Queue position number; increases by one per enqueued record, never reused. */
  n: number;
  topic: string;
  payload: Uint8Array;
}

export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueueError";
  }
}

export class OfflineQueue {
  private head = 0;
  private tail = 0;
  private droppedCount = 0;
  /** Records present in head..tail-1 and their stored size (payloads stay in the KV, not the heap). */
  private readonly present = new Map<number, number>();
  private bytes = 0;
  /**
   * The record push() just wrote, kept only until the next queue call (see takeRecent): the
   * usual online send pushes then drains at once, and this spares re-reading and decoding it.
   */
  private recent: QueuedRecord | undefined;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly log: Log,
    readonly capacity = DEFAULT_QUEUE_CAPACITY,
    readonly maxBytes = DEFAULT_QUEUE_MAX_BYTES,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 9999) throw new QueueError(`queue capacity ${capacity} not in 1..9999`);
    this.load();
  }

  /** Records waiting. */
  get length(): number {
    return this.present.size;
  }
  /** Records dropped (queue full, storage refused, or found missing after a reboot), ever. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Appends a record; when full, drops the oldest first (counted). Throws QueueError for a
   * record too large for one KV value. A KV refusal (full/io) drops older records to make
   * room; if even an empty queue cannot store it, the record itself is counted as dropped.
   */
  push(topic: string, payload: Uint8Array): number {
    const topicBytes = utf8Length(topic);
    if (topicBytes === 0) throw new QueueError("empty topic");
    if (REC_HEADER + topicBytes + payload.length > KV_VALUE_MAX) {
      throw new QueueError(`record of ${topicBytes + payload.length} bytes exceeds ${QUEUE_RECORD_MAX}`);
    }
    this.recent = undefined;
    const n = this.tail;
    const value = encodeRecord(n, topic, topicBytes, payload);
    const size = value.length + ENTRY_OVERHEAD;
    if (size > this.maxBytes) throw new QueueError(`record of ${size} bytes exceeds the queue budget of ${this.maxBytes}`);
    if (n - this.head >= this.capacity) this.dropOldest();
    while (this.bytes + size > this.maxBytes && this.present.size > 0) this.dropOldest();
    for (;;) {
      try {
        this.kv.set(this.slotKey(n), value);
        break;
      } catch (e) {
        if (!(e instanceof KvError)) throw e; // not a storage refusal (e.g. a simulated power cut)
        // Only a full store is helped by dropping old records; an I/O error would otherwise
        // wipe the whole queue one record at a time. Then only the new record is lost, counted.
        if (e.code !== "full" || this.present.size === 0) {
          this.droppedCount++;
          this.log("error", `queue: record ${n} dropped, storage refused it: ${String(e)}`);
          this.saveMeta();
          return n;
        }
        this.dropOldest(); // make room in the KV
      }
    }
    this.present.set(n, size);
    this.bytes += size;
    this.tail = n + 1;
    this.saveMeta();
    // Only a topic that reads back exactly (ASCII without NUL) may skip the read-back.
    if (topicBytes === topic.length && topic.indexOf("\0") < 0) {
      this.recent = { n, topic, payload: value.subarray(REC_HEADER + topicBytes) };
    }
    return n;
  }

  /** The oldest record, or undefined when empty. A record that can no longer be read is dropped and counted. */
  peek(): QueuedRecord | undefined {
    const recent = this.takeRecent();
    while (this.present.size > 0) {
      this.skipHoles();
      // The record push() wrote this turn: its bytes are what the KV holds.
      if (recent !== undefined && recent.n === this.head) return recent;
      const raw = this.kv.get(this.slotKey(this.head));
      const r = raw ? decodeRecord(raw) : undefined;
      if (r && r.n === this.head) return r;
      this.log("error", `queue: record ${this.head} unreadable, counted as dropped`);
      this.forget(this.head);
      this.droppedCount++;
      this.head++;
      this.saveMeta();
    }
    return undefined;
  }

  /**
   * Forgets the record push() kept for an immediate peek (the payloads of a queue stay in the
   * KV, not the heap); every other queue call forgets it too.
   */
  takeRecent(): QueuedRecord | undefined {
    const r = this.recent;
    this.recent = undefined;
    return r;
  }

  /** Removes the oldest record (after it has been handed on). */
  shift(): void {
    this.recent = undefined;
    this.skipHoles();
    if (this.present.size === 0) return;
    const n = this.head;
    this.forget(n);
    this.head++;
    this.skipHoles();
    this.saveMeta();
    this.deleteSlot(n);
  }

  private forget(n: number): boolean {
    const size = this.present.get(n);
    if (size === undefined) return false;
    this.present.delete(n);
    this.bytes -= size;
    return true;
  }

  private skipHoles(): void {
    while (this.head < this.tail && !this.present.has(this.head)) this.head++;
  }

  private dropOldest(): void {
    this.skipHoles();
    const n = this.head;
    if (this.forget(n)) this.droppedCount++;
    this.head++;
    this.skipHoles();
    this.log("warn", `queue: full, dropped record ${n} (${this.droppedCount} dropped so far)`);
    this.deleteSlot(n);
  }

  private slotKey(n: number): string {
    return QUEUE_SLOT_PREFIX + String(n % QUEUE_KEY_SPACE);
  }

  private deleteSlot(n: number): void {
    try {
      this.kv.delete(this.slotKey(n));
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.log("warn", `queue: could not delete slot of ${n}: ${String(e)}`);
    }
  }

  private saveMeta(): void {
    const m = new Uint8Array(12);
    putU32(m, 0, this.head);
    putU32(m, 4, this.tail);
    putU32(m, 8, this.droppedCount);
    try {
      this.kv.set(QUEUE_META_KEY, m);
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      // Records carry their numbers, so load() can rebuild; the in-memory state stays right.
      this.log("error", `queue: could not save meta: ${String(e)}`);
    }
  }

  private load(): void {
    const m = this.kv.get(QUEUE_META_KEY);
    let metaOk = false;
    if (m && m.length === 12) {
      this.head = getU32(m, 0);
      this.tail = getU32(m, 4);
      this.droppedCount = getU32(m, 8);
      metaOk = this.tail >= this.head && this.tail - this.head <= this.capacity;
      if (!metaOk) this.log("error", `queue: inconsistent meta head=${this.head} tail=${this.tail}; rebuilding`);
    } else if (m) {
      this.log("error", "queue: unreadable meta; rebuilding from records");
    }
    const found = new Map<number, { key: string; size: number }>();
    for (const key of this.kv.keys()) {
      const m = SLOT_KEY.exec(key);
      if (m === null) continue;
      const raw = this.kv.get(key);
      if (!raw) continue;
      const r = decodeRecord(raw);
      if (!r || r.n % QUEUE_KEY_SPACE !== Number(m[1])) {
        this.log("warn", `queue: unreadable record under ${key}, discarded`);
        this.kv.delete(key); // counted below as missing if it was inside head..tail-1
        continue;
      }
      found.set(r.n, { key, size: raw.length + ENTRY_OVERHEAD });
    }
    if (!metaOk) {
      // Without trustworthy meta, the records themselves say what is queued.
      const ns = [...found.keys()].sort((a, b) => a - b);
      this.head = ns.length > 0 ? ns[0] : this.tail;
      this.tail = this.head;
    }
    while (found.has(this.tail)) this.tail++; // written just before a power cut, meta not yet
    if (this.tail - this.head > this.capacity) {
      const over = this.tail - this.head - this.capacity; // a record adopted after a power cut, or a smaller capacity than the last build had
      this.head += over;
      this.droppedCount += over;
    }
    let missing = 0;
    for (let n = this.head; n < this.tail; n++) {
      const f = found.get(n);
      if (f) {
        this.present.set(n, f.size);
        this.bytes += f.size;
      } else missing++;
    }
    if (missing > 0) {
      this.log("error", `queue: ${missing} records missing from storage, counted as dropped`);
      this.droppedCount += missing;
    }
    for (const [n, f] of found) if (n < this.head || n >= this.tail) this.kv.delete(f.key);
    this.skipHoles();
    if (m || this.tail > 0) this.saveMeta();
  }
}

/** Big-endian u32 (as DataView.setUint32), written by hand: every record and meta write comes here. */
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

function getU32(b: Uint8Array, at: number): number {
  return b[at] * 0x1000000 + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

/** `topicBytes` is utf8Length(topic): the topic is encoded straight into the record. */
function encodeRecord(n: number, topic: string, topicBytes: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(REC_HEADER + topicBytes + payload.length);
  putU32(out, 0, n);
  out[4] = topicBytes >> 8;
  out[5] = topicBytes & 0xff;
  utf8Write(topic, out, REC_HEADER);
  out.set(payload, REC_HEADER + topicBytes);
  return out;
}

function decodeRecord(raw: Uint8Array): QueuedRecord | undefined {
  if (raw.length < REC_HEADER) return undefined;
  const n = getU32(raw, 0);
  const tl = (raw[4] << 8) | raw[5];
  if (REC_HEADER + tl > raw.length) return undefined;
  const topic = utf8Decode(raw, REC_HEADER, REC_HEADER + tl);
  if (topic === undefined || topic.length === 0) return undefined;
  return { n, topic, payload: raw.slice(REC_HEADER + tl) };
}

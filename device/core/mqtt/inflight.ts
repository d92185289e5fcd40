/**
 * Outbound QoS 1 messages awaiting PUBACK, persisted in the KV port so a reboot resends them.
 * One KV entry per message (key "mq" + 4 hex digits of the packet id: 6 chars, well under
 * NVS's 15), written before the first send and deleted on PUBACK. A record stores whether it
 * may have been sent, so a resend after reboot carries DUP only when it should.
 *
 * Record layout: [flags u8][order u32 BE][topic len u16][topic utf8][payload...]
 *   flags bit0 = retain, bit1 = sent (may have reached the broker).
 */
import { KV_VALUE_MAX, KvError, type KeyValueStore, type Log } from "../../ports";
import { utf8Decode, utf8Length, utf8Write } from "./utf8";

export const INFLIGHT_PREFIX = "mq";
const FLAG_RETAIN = 1;
const FLAG_SENT = 2;
const HEADER = 1 + 4 + 2;
/** Largest topic+payload that fits one NVS value. */
export const INFLIGHT_MAX_BYTES = KV_VALUE_MAX - HEADER;

export interface InflightEntry {
  packetId: number;
  topic: string;
  payload: Uint8Array;
  retain: boolean;
  /** True once the PUBLISH may have reached the broker: a resend then carries DUP. */
  sent: boolean;
  /** Monotonic insertion order, so resends keep publish order across id wrap and reboot. */
  order: number;
  /** False for messages that need not survive a reboot (e.g. the "online" status). */
  persist: boolean;
}

const keyOf = (id: number) => INFLIGHT_PREFIX + id.toString(16).padStart(4, "0");

export function encodeEntry(e: InflightEntry): Uint8Array {
  const tl = utf8Length(e.topic);
  const out = new Uint8Array(HEADER + tl + e.payload.length);
  out[0] = (e.retain ? FLAG_RETAIN : 0) | (e.sent ? FLAG_SENT : 0);
  // order as a big-endian u32 (DataView.setUint32 layout), topic encoded in place: one allocation.
  const order = e.order >>> 0;
  out[1] = order >>> 24;
  out[2] = order >>> 16;
  out[3] = order >>> 8;
  out[4] = order;
  out[5] = tl >> 8;
  out[6] = tl & 0xff;
  utf8Write(e.topic, out, HEADER);
  out.set(e.payload, HEADER + tl);
  return out;
}

export function decodeEntry(packetId: number, v: Uint8Array): InflightEntry | undefined {
  if (v.length < HEADER) return undefined;
  const tl = (v[5] << 8) | v[6];
  if (HEADER + tl > v.length || v[0] & ~(FLAG_RETAIN | FLAG_SENT)) return undefined;
  const topic = utf8Decode(v, HEADER, HEADER + tl);
  if (topic === undefined || topic.length === 0) return undefined;
  return {
    packetId,
    topic,
    payload: v.slice(HEADER + tl),
    retain: (v[0] & FLAG_RETAIN) !== 0,
    sent: (v[0] & FLAG_SENT) !== 0,
    order: new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(1),
    persist: true,
  };
}

export class InflightStore {
  private readonly map = new Map<number, InflightEntry>();
  private nextOrder = 0;

  constructor(private readonly kv: KeyValueStore, private readonly log: Log) {
    for (const key of kv.keys()) {
      if (!key.startsWith(INFLIGHT_PREFIX) || key.length !== INFLIGHT_PREFIX.length + 4) continue;
      const id = parseInt(key.slice(INFLIGHT_PREFIX.length), 16);
      const raw = kv.get(key);
      const e = raw && id > 0 ? decodeEntry(id, raw) : undefined;
      if (!e) {
        // A record we cannot parse can never be sent; drop it loudly rather than wedge the id.
        log("warn", `mqtt: dropping unreadable in-flight record ${key}`);
        kv.delete(key);
        continue;
      }
      this.map.set(id, e);
      if (e.order >= this.nextOrder) this.nextOrder = e.order + 1;
    }
  }

  get size(): number {
    return this.map.size;
  }
  has(id: number): boolean {
    return this.map.has(id);
  }
  get(id: number): InflightEntry | undefined {
    return this.map.get(id);
  }

  /** Stores a new entry (persisting first when asked); throws KvError when the KV refuses it. */
  add(packetId: number, topic: string, payload: Uint8Array, retain: boolean, sent: boolean, persist: boolean): InflightEntry {
    const e: InflightEntry = { packetId, topic, payload, retain, sent, order: this.nextOrder, persist };
    if (persist) this.kv.set(keyOf(packetId), encodeEntry(e));
    this.nextOrder = (this.nextOrder + 1) >>> 0;
    this.map.set(packetId, e);
    return e;
  }

  /** Records that an entry is about to be written to the socket. */
  markSent(e: InflightEntry): void {
    if (e.sent) return;
    e.sent = true;
    if (e.persist) {
      try {
        this.kv.set(keyOf(e.packetId), encodeEntry(e));
      } catch (err) {
        if (!(err instanceof KvError)) throw err;
        // The older record (sent=0) stays valid; worst case a resend lacks DUP.
        this.log("warn", `mqtt: could not mark ${e.packetId} sent: ${String(err)}`);
      }
    }
  }

  remove(id: number): InflightEntry | undefined {
    const e = this.map.get(id);
    if (!e) return undefined;
    this.map.delete(id);
    if (e.persist) {
      try {
        this.kv.delete(keyOf(id));
      } catch (err) {
        if (!(err instanceof KvError)) throw err;
        this.log("warn", `mqtt: could not delete in-flight ${id}: ${String(err)}`);
      }
    }
    return e;
  }

  /** Entries in publish order. */
  entries(): InflightEntry[] {
    return [...this.map.values()].sort((a, b) => a.order - b.order);
  }
}

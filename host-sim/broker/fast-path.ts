/**
 * The broker's fast path for the packets a fleet sends all day: a device publishes to the same
 * topic every time, pings, and acknowledges. When a chunk starts with such a packet, whole, and
 * the parser holds nothing, the packet is read here in place: the topic is compared byte for byte
 * with the one this connection used last (its string, already checked, is reused), and the payload
 * is a view into the chunk, which the virtual network copied for this receiver (network.ts); the
 * broker copies it only when something keeps it (VirtualBroker.route, `borrowed`). Any
 * other byte, or anything this code does not fully check, goes to the MQTT parser instead, which
 * decides exactly as before; so a packet is accepted here only where the parser would accept it
 * with the same fields.
 */
import { utf8Encode } from "../../device/core/mqtt/utf8";

// Fixed-header first bytes (§2.2): type << 4 | flags.
const PUBLISH_TYPE = 3;
const PINGREQ_FIRST = 0xc0;
const PUBACK_FIRST = 0x40;
const QOS_MASK = 0x06;
const DUP_FLAG = 0x08;
const RETAIN_FLAG = 0x01;

/** The last topic a connection published to, as its wire bytes and as the string the parser made. */
export class TopicCache {
  bytes: Uint8Array;
  constructor(readonly topic: string) {
    this.bytes = utf8Encode(topic);
  }
}

/** What the fast path hands on; the broker implements it. */
export interface FastSink {
  /** A PUBLISH of QoS 0 or 1 to the cached topic (packetId 0 for QoS 0). */
  fastPublish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean, dup: boolean, packetId: number): void;
  fastPingreq(): void;
  fastPuback(packetId: number): void;
  /** False once the connection closed: the rest of the chunk is ignored, as the parser's packets would be. */
  readonly open: boolean;
}

/**
 * Reads the packets at the start of `bytes` that the fast path takes and hands them to `sink`;
 * returns where the parser must take over (bytes.length when nothing is left).
 */
export function readFastPackets(bytes: Uint8Array, cache: TopicCache | undefined, maxPacketSize: number, sink: FastSink): number {
  let i = 0;
  const n = bytes.length;
  while (i < n && sink.open) {
    const first = bytes[i];
    if (first === PINGREQ_FIRST) {
      if (i + 1 >= n || bytes[i + 1] !== 0) return i;
      i += 2;
      sink.fastPingreq();
      continue;
    }
    if (first === PUBACK_FIRST) {
      if (i + 3 >= n || bytes[i + 1] !== 2) return i;
      const id = (bytes[i + 2] << 8) | bytes[i + 3];
      if (id === 0) return i; // the parser reports it
      i += 4;
      sink.fastPuback(id);
      continue;
    }
    if (first >> 4 !== PUBLISH_TYPE || cache === undefined) return i;
    const qos = (first & QOS_MASK) >> 1;
    // QoS 2 and 3, and DUP on QoS 0 (malformed), are the parser's.
    if (qos > 1 || (qos === 0 && (first & DUP_FLAG) !== 0)) return i;
    // Remaining Length: at most two bytes here (16,383); longer ones go to the parser.
    let p = i + 1;
    if (p >= n) return i;
    let length = bytes[p++];
    if (length & 0x80) {
      if (p >= n || bytes[p] & 0x80) return i;
      length = (length & 0x7f) | (bytes[p++] << 7);
    }
    if (length > maxPacketSize || length > n - p) return i;
    const end = p + length;
    const topic = cache.bytes;
    const t = topic.length;
    const headerLength = 2 + t + (qos > 0 ? 2 : 0);
    if (length < headerLength || bytes[p] !== t >> 8 || bytes[p + 1] !== (t & 0xff)) return i;
    for (let k = 0; k < t; k++) if (bytes[p + 2 + k] !== topic[k]) return i;
    let packetId = 0;
    if (qos > 0) {
      packetId = (bytes[p + 2 + t] << 8) | bytes[p + 3 + t];
      if (packetId === 0) return i;
    }
    i = end;
    sink.fastPublish(cache.topic, bytes.subarray(p + headerLength, end), qos as 0 | 1, (first & RETAIN_FLAG) !== 0, (first & DUP_FLAG) !== 0, packetId);
  }
  return i;
}

/**
 * Incremental MQTT 3.1.1 parser. The fixed header and Remaining Length are read byte by
 * byte, so any fragmentation works (down to one byte per onData). The body is copied into
 * a buffer of exactly Remaining Length bytes, bounded by maxPacketSize before any
 * allocation. Errors are reported, never thrown: after an error the parser stays failed
 * and ignores further input (the owner closes the connection with the reason).
 *
 * A PUBLISH over maxPacketSize is not an error when the owner passes onOversized: its body
 * is streamed past without being stored (only the topic, when short, and the packet id,
 * which come first, are kept), and the owner is told, so it can acknowledge and stay up.
 */
import {
  CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL,
  SUBACK, SUBSCRIBE, SUBACK_FAILURE, UNSUBACK, UNSUBSCRIBE,
  type Packet, type PacketQoS, type Will,
} from "./codec";
import { utf8Decode } from "./utf8";
import { setErrorName } from "../util/error-name";

/** Default bound on Remaining Length: generous for telemetry/config, small for an ESP32 heap. */
export const DEFAULT_MAX_PACKET = 16 * 1024;

/** Required fixed-header flag nibble (§2.2.2): 0b0010 for PUBREL/SUBSCRIBE/UNSUBSCRIBE, else 0; PUBLISH has its own. */
const FLAGS_FOR = (t: number): number => (t === PUBREL || t === SUBSCRIBE || t === UNSUBSCRIBE ? 2 : 0);

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "ParseError");
  }
}

const EMPTY = new Uint8Array(0);

/** A skipped PUBLISH's topic is kept for the log only up to this many bytes. */
export const OVERSIZED_TOPIC_KEEP = 128;

/** What the parser knows of a PUBLISH it skipped for being over maxPacketSize. */
export interface OversizedPublish {
  /** Remaining Length announced. */
  length: number;
  qos: PacketQoS;
  retain: boolean;
  dup: boolean;
  /** Present for QoS 1 and 2: what the PUBACK must carry. */
  packetId?: number;
  /** Undefined when longer than OVERSIZED_TOPIC_KEEP bytes or not UTF-8. */
  topic?: string;
}

// Parser states (plain numbers: no const enum, so any bundler/transpiler is fine).
const S = { Header: 0, Length: 1, Body: 2, Failed: 3, Skip: 4 } as const;
// Fields of a skipped PUBLISH, read one byte at a time as they stream past.
const K = { TopicLen: 0, Topic: 1, PacketId: 2, Rest: 3 } as const;

export interface MqttParserOptions {
  /** Largest Remaining Length accepted; a bigger packet closes the connection (default DEFAULT_MAX_PACKET). */
  maxPacketSize?: number;
  /** Given, a PUBLISH over maxPacketSize is streamed past and reported here instead of closing. */
  onOversized?: (p: OversizedPublish) => void;
  /**
   * A PUBLISH payload is a view into the bytes pushed (or into the parser's own body buffer)
   * instead of a copy: for an owner that copies what it keeps (the simulator's broker, whose
   * chunks are its own copies). Off by default: the agent keeps payloads.
   */
  borrowPayloads?: boolean;
}

export class MqttParser {
  private state: number = S.Header;
  private first = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private body: Uint8Array = EMPTY;
  private filled = 0;
  /** The reason of the first error, once failed. */
  error: string | undefined;
  // A PUBLISH being skipped: body bytes still to come, the field being read, its bytes so far.
  private skipLeft = 0;
  private skipField: number = K.TopicLen;
  private skipTopicLen = 0;
  private skipFieldRead = 0;
  private skipTopic: Uint8Array = EMPTY;
  private skipped: OversizedPublish | undefined;
  /** The last PUBLISH topic seen: a connection carries the same few topics again and again. */
  private readonly topics = new TopicCache();

  /** Largest Remaining Length accepted (options.maxPacketSize, default DEFAULT_MAX_PACKET). */
  readonly maxPacketSize: number;
  private readonly onOversized: ((p: OversizedPublish) => void) | undefined;
  private readonly borrowPayloads: boolean;

  constructor(
    private readonly onPacket: (p: Packet) => void,
    private readonly onError: (reason: string) => void,
    options: MqttParserOptions = {},
  ) {
    // Plain fields, read on every packet (not through the options object, whose shape varies).
    this.maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET;
    this.onOversized = options.onOversized;
    this.borrowPayloads = options.borrowPayloads ?? false;
  }

  /** Feeds bytes; calls onPacket for each complete packet, or onError once. */
  push(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length && this.state !== S.Failed) {
      switch (this.state) {
        case S.Header: {
          const b = bytes[i++];
          const type = b >> 4;
          if (type === 0 || type === 15) return this.fail(`malformed: reserved packet type ${type}`);
          if (type !== PUBLISH && (b & 15) !== FLAGS_FOR(type)) {
            return this.fail(`malformed: bad fixed-header flags ${b & 15} for type ${type}`);
          }
          if (type === PUBLISH && ((b >> 1) & 3) === 3) return this.fail("malformed: PUBLISH with QoS 3");
          this.first = b;
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = S.Length;
          break;
        }
        case S.Length: {
          const b = bytes[i++];
          this.length += (b & 127) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if (b & 128) {
            if (this.lengthBytes === 4) return this.fail("malformed: remaining length longer than 4 bytes");
            break;
          }
          if (this.length > this.maxPacketSize) {
            if (this.onOversized !== undefined && this.first >> 4 === PUBLISH) {
              this.startSkip();
              break;
            }
            return this.fail(`oversized: remaining length ${this.length} > max ${this.maxPacketSize}`);
          }
          if (this.length <= bytes.length - i) {
            // The whole body is in this chunk (the usual case): decode it in place, no copy, no view.
            const start = i;
            i += this.length;
            this.state = S.Header;
            this.deliver(bytes, start, i);
            break;
          }
          this.body = new Uint8Array(this.length);
          this.filled = 0;
          this.state = S.Body;
          if (this.length === 0) this.complete();
          break;
        }
        case S.Body: {
          const n = Math.min(this.length - this.filled, bytes.length - i);
          this.body.set(bytes.subarray(i, i + n), this.filled);
          this.filled += n;
          i += n;
          if (this.filled === this.length) this.complete();
          break;
        }
        case S.Skip: {
          if (this.skipField === K.Rest) {
            // The payload: counted down, never stored.
            const n = Math.min(this.skipLeft, bytes.length - i);
            i += n;
            this.skipLeft -= n;
          } else {
            this.skipByte(bytes[i++]);
            this.skipLeft--;
          }
          if (this.state === S.Skip && this.skipLeft === 0) this.endSkip();
          break;
        }
      }
    }
  }

  private startSkip(): void {
    const first = this.first;
    const qos = (first >> 1) & 3;
    this.skipped = { length: this.length, qos: qos as PacketQoS, retain: (first & 1) === 1, dup: (first & 8) !== 0 };
    this.skipLeft = this.length;
    this.skipField = K.TopicLen;
    this.skipTopicLen = 0;
    this.skipFieldRead = 0;
    this.skipTopic = EMPTY;
    this.state = S.Skip;
  }

  /** One byte of the topic length, topic or packet id of a PUBLISH being skipped. */
  private skipByte(b: number): void {
    const p = this.skipped!;
    switch (this.skipField) {
      case K.TopicLen:
        this.skipTopicLen = (this.skipTopicLen << 8) | b;
        if (++this.skipFieldRead < 2) return;
        this.skipFieldRead = 0;
        if (this.skipTopicLen <= OVERSIZED_TOPIC_KEEP) this.skipTopic = new Uint8Array(this.skipTopicLen);
        this.skipField = this.skipTopicLen > 0 ? K.Topic : p.qos > 0 ? K.PacketId : K.Rest;
        return;
      case K.Topic:
        if (this.skipTopic.length > 0) this.skipTopic[this.skipFieldRead] = b;
        if (++this.skipFieldRead < this.skipTopicLen) return;
        this.skipFieldRead = 0;
        if (this.skipTopic.length > 0) p.topic = utf8Decode(this.skipTopic, 0, this.skipTopic.length);
        this.skipTopic = EMPTY;
        this.skipField = p.qos > 0 ? K.PacketId : K.Rest;
        return;
      case K.PacketId:
        p.packetId = ((p.packetId ?? 0) << 8) | b;
        if (++this.skipFieldRead < 2) return;
        this.skipField = K.Rest;
        return;
    }
  }

  private endSkip(): void {
    const p = this.skipped!;
    this.skipped = undefined;
    // The body ended inside the header fields: the packet was malformed, not just large.
    if (this.skipField !== K.Rest) return this.fail("malformed: oversized PUBLISH truncated before its packet id");
    if (p.qos > 0 && !p.packetId) return this.fail("malformed: packet id 0 in PUBLISH");
    this.state = S.Header;
    this.onOversized!(p);
  }

  /** True when the parser holds a partial packet (for "dropped mid-packet" reasons). */
  get midPacket(): boolean {
    return this.state === S.Length || this.state === S.Body || this.state === S.Skip;
  }

  private complete(): void {
    this.state = S.Header;
    const body = this.body;
    this.body = EMPTY;
    this.deliver(body, 0, body.length);
  }

  /** Decodes a complete body, buf[start, end) (decoding copies what it keeps, so `buf` may be reused). */
  private deliver(buf: Uint8Array, start: number, end: number): void {
    let p: Packet;
    try {
      p = decodeRange(this.first, buf, start, end, this.topics, this.borrowPayloads);
    } catch (e) {
      return this.fail(e instanceof ParseError ? e.message : `malformed: ${String(e)}`);
    }
    this.onPacket(p);
  }

  private fail(reason: string): void {
    this.state = S.Failed;
    this.error = reason;
    this.body = EMPTY;
    this.skipTopic = EMPTY;
    this.onError(reason);
  }
}

// ---------------------------------------------------------------- body decoding
class Reader {
  constructor(readonly b: Uint8Array, public pos: number, readonly stop: number, readonly what: string) {}
  get left(): number {
    return this.stop - this.pos;
  }
  u8(): number {
    if (this.left < 1) throw new ParseError(`truncated: ${this.what}`);
    return this.b[this.pos++];
  }
  u16(): number {
    if (this.left < 2) throw new ParseError(`truncated: ${this.what}`);
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }
  bin(): Uint8Array {
    const n = this.u16();
    if (this.left < n) throw new ParseError(`truncated: ${this.what} field of ${n} bytes`);
    const v = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(): string {
    const n = this.u16();
    if (this.left < n) throw new ParseError(`truncated: ${this.what} string of ${n} bytes`);
    const s = utf8Decode(this.b, this.pos, this.pos + n);
    if (s === undefined) throw new ParseError(`malformed: invalid UTF-8 in ${this.what}`);
    this.pos += n;
    return s;
  }
  id(): number {
    const v = this.u16();
    if (v === 0) throw new ParseError(`malformed: packet id 0 in ${this.what}`);
    return v;
  }
  end(): void {
    if (this.left !== 0) throw new ParseError(`malformed: ${this.left} trailing bytes in ${this.what}`);
  }
}

function qosOf(v: number, what: string): PacketQoS {
  if (v > 2) throw new ParseError(`malformed: QoS ${v} in ${what}`);
  return v as PacketQoS;
}

const ACK_NAMES = { [PUBACK]: "puback", [PUBREC]: "pubrec", [PUBREL]: "pubrel", [PUBCOMP]: "pubcomp", [UNSUBACK]: "unsuback" } as const;
const ACK_LABELS = { [PUBACK]: "PUBACK", [PUBREC]: "PUBREC", [PUBREL]: "PUBREL", [PUBCOMP]: "PUBCOMP", [UNSUBACK]: "UNSUBACK" } as const;

/** Decodes one complete packet body; throws ParseError with a reason. */
export function decodeBody(first: number, body: Uint8Array): Packet {
  return decodeRange(first, body, 0, body.length, undefined, false);
}

/**
 * A PUBLISH topic already decoded and checked on this connection, reused when the same bytes
 * come again (a broker sees each device's telemetry topic on every message): no string built,
 * no UTF-8 or wildcard check repeated. Kept only for ASCII topics, compared char by char, so
 * it holds a string and nothing else.
 */
class TopicCache {
  private topic = "";

  /** The checked topic in buf[start, end), or throws ParseError as decodeRange would. */
  get(buf: Uint8Array, start: number, end: number): string {
    const t = this.topic;
    const n = end - start;
    if (n === t.length && n > 0) {
      let i = 0;
      while (i < n && buf[start + i] === t.charCodeAt(i)) i++;
      if (i === n) return t;
    }
    const topic = checkedTopic(buf, start, end);
    if (isAscii(topic)) this.topic = topic;
    return topic;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** A PUBLISH topic: valid UTF-8, not empty, no wildcard (the checks in this order). */
function checkedTopic(buf: Uint8Array, start: number, end: number): string {
  const topic = utf8Decode(buf, start, end);
  if (topic === undefined) throw new ParseError("malformed: invalid UTF-8 in PUBLISH");
  if (topic.length === 0) throw new ParseError("malformed: empty PUBLISH topic");
  if (topic.indexOf("+") >= 0 || topic.indexOf("#") >= 0) throw new ParseError("malformed: wildcard in PUBLISH topic");
  return topic;
}

/** decodeBody over buf[start, end), with the connection's topic cache (none: decode afresh); `borrow`: a PUBLISH payload is a view. */
function decodeRange(first: number, buf: Uint8Array, start: number, end: number, topics: TopicCache | undefined, borrow: boolean): Packet {
  const type = first >> 4;
  switch (type) {
    case CONNECT: {
      const r = new Reader(buf, start, end, "CONNECT");
      const protocolName = r.str();
      const protocolLevel = r.u8();
      const flags = r.u8();
      if (flags & 1) throw new ParseError("malformed: CONNECT reserved flag set");
      const keepAlive = r.u16();
      const clientId = r.str();
      const p: Packet = { type: "connect", protocolName, protocolLevel, clientId, cleanSession: (flags & 2) !== 0, keepAlive };
      const willQos = (flags >> 3) & 3;
      if (flags & 4) {
        const will: Will = { topic: r.str(), payload: r.bin(), qos: qosOf(willQos, "will"), retain: (flags & 0x20) !== 0 };
        p.will = will;
      } else if (willQos !== 0 || flags & 0x20) throw new ParseError("malformed: will flags without will");
      if (flags & 0x80) p.username = r.str();
      if (flags & 0x40) p.password = r.bin();
      r.end();
      return p;
    }
    case CONNACK: {
      const r = new Reader(buf, start, end, "CONNACK");
      const ack = r.u8();
      if (ack & 0xfe) throw new ParseError("malformed: CONNACK reserved bits set");
      const returnCode = r.u8();
      r.end();
      return { type: "connack", sessionPresent: (ack & 1) === 1, returnCode };
    }
    case PUBLISH: {
      // Read inline (every message passes here twice: broker and device), with Reader's checks and reasons.
      const qos = qosOf((first >> 1) & 3, "PUBLISH");
      const dup = (first & 8) !== 0;
      if (dup && qos === 0) throw new ParseError("malformed: DUP set on QoS 0 PUBLISH");
      if (end - start < 2) throw new ParseError("truncated: PUBLISH");
      const topicEnd = start + 2 + ((buf[start] << 8) | buf[start + 1]);
      if (topicEnd > end) throw new ParseError(`truncated: PUBLISH string of ${topicEnd - start - 2} bytes`);
      const topic = topics !== undefined ? topics.get(buf, start + 2, topicEnd) : checkedTopic(buf, start + 2, topicEnd);
      let pos = topicEnd;
      let packetId = 0;
      if (qos > 0) {
        if (end - pos < 2) throw new ParseError("truncated: PUBLISH");
        packetId = (buf[pos] << 8) | buf[pos + 1];
        if (packetId === 0) throw new ParseError("malformed: packet id 0 in PUBLISH");
        pos += 2;
      }
      const p: Packet = { type: "publish", topic, payload: borrow ? buf.subarray(pos, end) : buf.slice(pos, end), qos, retain: (first & 1) === 1, dup };
      if (qos > 0) p.packetId = packetId;
      return p;
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
    case UNSUBACK: {
      // Inline too (a PUBACK per message): Reader's u16, id and end checks, same reasons.
      const name = ACK_NAMES[type as keyof typeof ACK_NAMES];
      const n = end - start;
      if (n < 2) throw new ParseError(`truncated: ${ACK_LABELS[type as keyof typeof ACK_LABELS]}`);
      const packetId = (buf[start] << 8) | buf[start + 1];
      if (packetId === 0) throw new ParseError(`malformed: packet id 0 in ${ACK_LABELS[type as keyof typeof ACK_LABELS]}`);
      if (n !== 2) throw new ParseError(`malformed: ${n - 2} trailing bytes in ${ACK_LABELS[type as keyof typeof ACK_LABELS]}`);
      return { type: name, packetId };
    }
    case SUBSCRIBE: {
      const r = new Reader(buf, start, end, "SUBSCRIBE");
      const packetId = r.id();
      const subscriptions: { topic: string; qos: PacketQoS }[] = [];
      while (r.left > 0) {
        const topic = r.str();
        const q = r.u8();
        if (q & 0xfc) throw new ParseError("malformed: SUBSCRIBE reserved bits set");
        subscriptions.push({ topic, qos: qosOf(q, "SUBSCRIBE") });
      }
      if (subscriptions.length === 0) throw new ParseError("malformed: SUBSCRIBE with no topics");
      return { type: "subscribe", packetId, subscriptions };
    }
    case SUBACK: {
      const r = new Reader(buf, start, end, "SUBACK");
      const packetId = r.id();
      const returnCodes: number[] = [];
      while (r.left > 0) {
        const c = r.u8();
        if (c > 2 && c !== SUBACK_FAILURE) throw new ParseError(`malformed: SUBACK return code ${c}`);
        returnCodes.push(c);
      }
      if (returnCodes.length === 0) throw new ParseError("malformed: SUBACK with no return codes");
      return { type: "suback", packetId, returnCodes };
    }
    case UNSUBSCRIBE: {
      const r = new Reader(buf, start, end, "UNSUBSCRIBE");
      const packetId = r.id();
      const topics: string[] = [];
      while (r.left > 0) topics.push(r.str());
      if (topics.length === 0) throw new ParseError("malformed: UNSUBSCRIBE with no topics");
      return { type: "unsubscribe", packetId, topics };
    }
    case PINGREQ:
    case PINGRESP:
    case DISCONNECT: {
      const name = type === PINGREQ ? "pingreq" : type === PINGRESP ? "pingresp" : "disconnect";
      if (end !== start) throw new ParseError(`malformed: ${name.toUpperCase()} with a body`);
      return { type: name };
    }
    default:
      throw new ParseError(`malformed: reserved packet type ${type}`);
  }
}

/**
 * MQTT 3.1.1 packet types and encoders (OASIS mqtt-v3.1.1-os). Portable: Uint8Array only.
 * Encoders cover both roles, so tests can script a broker with the same codec;
 * decoding lives in parser.ts.
 */
import { utf8Encode, utf8Length, utf8Write } from "./utf8";
import { transientBytes } from "../util/byte-slab";
import { setErrorName } from "../util/error-name";

// ---------------------------------------------------------------- protocol constants
export const PROTOCOL_NAME = "MQTT";
export const PROTOCOL_LEVEL = 4; // 3.1.1
export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const UNSUBSCRIBE = 10;
export const UNSUBACK = 11;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;
/** Largest value the 4-byte Remaining Length can hold (§2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** SUBACK failure return code (§3.9.3). */
export const SUBACK_FAILURE = 0x80;
/** CONNACK return codes (§3.2.2.3). */
export const CONNACK_REASONS: readonly string[] = [
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
];
/** CONNECT flag bits (§3.1.2.3). */
const F_USERNAME = 0x80;
const F_PASSWORD = 0x40;
const F_WILL_RETAIN = 0x20;
const F_WILL = 0x04;
const F_CLEAN = 0x02;

// ---------------------------------------------------------------- packet shapes
export type PacketQoS = 0 | 1 | 2;
export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: PacketQoS;
  retain: boolean;
}
export interface ConnectPacket {
  type: "connect";
  protocolName: string;
  protocolLevel: number;
  clientId: string;
  cleanSession: boolean;
  keepAlive: number;
  username?: string;
  password?: Uint8Array;
  will?: Will;
}
export interface PublishPacket {
  type: "publish";
  topic: string;
  payload: Uint8Array;
  qos: PacketQoS;
  retain: boolean;
  dup: boolean;
  /** Present iff qos > 0. */
  packetId?: number;
}
export type Packet =
  | ConnectPacket
  | { type: "connack"; sessionPresent: boolean; returnCode: number }
  | PublishPacket
  | { type: "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback"; packetId: number }
  | { type: "subscribe"; packetId: number; subscriptions: { topic: string; qos: PacketQoS }[] }
  | { type: "suback"; packetId: number; returnCodes: number[] }
  | { type: "unsubscribe"; packetId: number; topics: string[] }
  | { type: "pingreq" | "pingresp" | "disconnect" };

/** Thrown by encoders for values the protocol cannot carry (caller errors, never network input). */
export class MqttEncodeError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "MqttEncodeError");
  }
}

// ---------------------------------------------------------------- writer
/** Bytes of a string or binary field: 2-byte length + data (§1.5.3). */
function field(data: Uint8Array, what: string): Uint8Array {
  if (data.length > 0xffff) throw new MqttEncodeError(`${what} longer than 65535 bytes`);
  const out = new Uint8Array(2 + data.length);
  out[0] = data.length >> 8;
  out[1] = data.length & 0xff;
  out.set(data, 2);
  return out;
}

/** A topic name must not hold a filter wildcard (§4.7.1). Not a regex: a literal makes an object per call. */
export function hasWildcard(topic: string): boolean {
  return topic.indexOf("+") >= 0 || topic.indexOf("#") >= 0;
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > 0xffff) throw new MqttEncodeError(`packet id ${id} not in 1..65535`);
}

/** Assembles fixed header + parts into one buffer. */
function frame(first: number, parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = header(first, len);
  let o = out.length - len;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A packet buffer with its fixed header written (first byte, Remaining Length); the body follows. */
function header(first: number, len: number): Uint8Array {
  if (len > MAX_REMAINING_LENGTH) throw new MqttEncodeError(`packet body ${len} exceeds ${MAX_REMAINING_LENGTH}`);
  let lenBytes = 1;
  for (let v = len; v >= 128; v = Math.floor(v / 128)) lenBytes++;
  // A packet is written to a socket and dropped: from the slab (byte-slab.ts).
  const out = transientBytes(1 + lenBytes + len);
  out[0] = first;
  let v = len;
  let o = 1;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out[o++] = b;
  } while (v > 0);
  return out;
}

function u16(v: number): Uint8Array {
  return Uint8Array.of(v >> 8, v & 0xff);
}

// ---------------------------------------------------------------- encoders
export function encodeConnect(p: {
  clientId: string;
  keepAlive: number;
  cleanSession: boolean;
  username?: string;
  password?: Uint8Array;
  will?: Will;
}): Uint8Array {
  if (!Number.isInteger(p.keepAlive) || p.keepAlive < 0 || p.keepAlive > 0xffff) {
    throw new MqttEncodeError(`keep-alive ${p.keepAlive} not in 0..65535`);
  }
  // §3.1.2.9: a password without a user name is not allowed in 3.1.1.
  if (p.password !== undefined && p.username === undefined) throw new MqttEncodeError("password without username");
  // §3.1.3-7: a zero-length client id needs CleanSession 1.
  if (p.clientId.length === 0 && !p.cleanSession) throw new MqttEncodeError("empty client id needs cleanSession");
  let flags = p.cleanSession ? F_CLEAN : 0;
  const parts: Uint8Array[] = [field(utf8Encode(PROTOCOL_NAME), "protocol name"), Uint8Array.of(PROTOCOL_LEVEL, 0), u16(p.keepAlive)];
  parts.push(field(utf8Encode(p.clientId), "client id"));
  if (p.will) {
    if (p.will.qos !== 0 && p.will.qos !== 1 && p.will.qos !== 2) throw new MqttEncodeError("bad will qos");
    flags |= F_WILL | (p.will.qos << 3) | (p.will.retain ? F_WILL_RETAIN : 0);
    parts.push(field(utf8Encode(p.will.topic), "will topic"), field(p.will.payload, "will payload"));
  }
  if (p.username !== undefined) {
    flags |= F_USERNAME;
    parts.push(field(utf8Encode(p.username), "username"));
  }
  if (p.password !== undefined) {
    flags |= F_PASSWORD;
    parts.push(field(p.password, "password"));
  }
  parts[1][1] = flags;
  return frame(CONNECT << 4, parts);
}

export function encodeConnack(sessionPresent: boolean, returnCode: number): Uint8Array {
  return frame(CONNACK << 4, [Uint8Array.of(sessionPresent ? 1 : 0, returnCode & 0xff)]);
}

export function encodePublish(p: {
  topic: string;
  payload: Uint8Array;
  qos: PacketQoS;
  retain?: boolean;
  dup?: boolean;
  packetId?: number;
}): Uint8Array {
  if (p.qos !== 0 && p.qos !== 1 && p.qos !== 2) throw new MqttEncodeError(`bad qos ${p.qos}`);
  if (p.topic.length === 0) throw new MqttEncodeError("empty topic");
  if (hasWildcard(p.topic)) throw new MqttEncodeError("wildcard in publish topic");
  const topicBytes = utf8Length(p.topic);
  if (topicBytes > 0xffff) throw new MqttEncodeError("topic longer than 65535 bytes");
  if (p.qos > 0) checkId(p.packetId ?? 0);
  // §3.3.1.1: DUP must be 0 for QoS 0.
  const first = (PUBLISH << 4) | (p.dup && p.qos > 0 ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
  // The hot path of every message: one buffer, written in place (same bytes as frame()).
  const len = 2 + topicBytes + (p.qos > 0 ? 2 : 0) + p.payload.length;
  const out = header(first, len);
  let o = out.length - len;
  out[o++] = topicBytes >> 8;
  out[o++] = topicBytes & 0xff;
  o = utf8Write(p.topic, out, o);
  if (p.qos > 0) {
    out[o++] = p.packetId! >> 8;
    out[o++] = p.packetId! & 0xff;
  }
  out.set(p.payload, o);
  return out;
}

/**
 * encodePublish for a topic its caller checked (no wildcard) and encoded once: the client
 * publishes one topic for a device's whole life, so it is not scanned three times per message.
 * The same bytes as encodePublish (test/mqtt/differential.test.ts checks both against mqtt-packet);
 * written out, not shared through a helper, because that call costs XS more than it saves.
 */
export function encodePublishEncoded(topic: Uint8Array, payload: Uint8Array, qos: 0 | 1, retain: boolean, dup: boolean, packetId?: number): Uint8Array {
  const topicBytes = topic.length;
  if (topicBytes === 0) throw new MqttEncodeError("empty topic");
  if (topicBytes > 0xffff) throw new MqttEncodeError("topic longer than 65535 bytes");
  if (qos > 0) checkId(packetId ?? 0);
  const first = (PUBLISH << 4) | (dup && qos > 0 ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  const len = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
  const out = header(first, len);
  let o = out.length - len;
  out[o++] = topicBytes >> 8;
  out[o++] = topicBytes & 0xff;
  out.set(topic, o);
  o += topicBytes;
  if (qos > 0) {
    out[o++] = packetId! >> 8;
    out[o++] = packetId! & 0xff;
  }
  out.set(payload, o);
  return out;
}

function ackLike(type: number, flags: number, id: number): Uint8Array {
  checkId(id);
  return frame((type << 4) | flags, [u16(id)]);
}
export const encodePuback = (id: number) => ackLike(PUBACK, 0, id);
export const encodePubrec = (id: number) => ackLike(PUBREC, 0, id);
export const encodePubrel = (id: number) => ackLike(PUBREL, 2, id);
export const encodePubcomp = (id: number) => ackLike(PUBCOMP, 0, id);
export const encodeUnsuback = (id: number) => ackLike(UNSUBACK, 0, id);

export function encodeSubscribe(id: number, subs: { topic: string; qos: PacketQoS }[]): Uint8Array {
  checkId(id);
  if (subs.length === 0) throw new MqttEncodeError("subscribe with no topics"); // §3.8.3-3
  const parts = [u16(id)];
  for (const s of subs) {
    if (s.topic.length === 0) throw new MqttEncodeError("empty topic filter");
    parts.push(field(utf8Encode(s.topic), "topic filter"), Uint8Array.of(s.qos));
  }
  return frame((SUBSCRIBE << 4) | 2, parts);
}

export function encodeSuback(id: number, returnCodes: number[]): Uint8Array {
  checkId(id);
  return frame(SUBACK << 4, [u16(id), Uint8Array.from(returnCodes)]);
}

export function encodeUnsubscribe(id: number, topics: string[]): Uint8Array {
  checkId(id);
  if (topics.length === 0) throw new MqttEncodeError("unsubscribe with no topics");
  return frame((UNSUBSCRIBE << 4) | 2, [u16(id), ...topics.map((t) => field(utf8Encode(t), "topic filter"))]);
}

export const encodePingreq = () => Uint8Array.of(PINGREQ << 4, 0);
export const encodePingresp = () => Uint8Array.of(PINGRESP << 4, 0);
export const encodeDisconnect = () => Uint8Array.of(DISCONNECT << 4, 0);

/** Encodes any packet value (used by tests). */
export function encodePacket(p: Packet): Uint8Array {
  switch (p.type) {
    case "connect":
      return encodeConnect(p);
    case "connack":
      return encodeConnack(p.sessionPresent, p.returnCode);
    case "publish":
      return encodePublish(p);
    case "puback":
      return encodePuback(p.packetId);
    case "pubrec":
      return encodePubrec(p.packetId);
    case "pubrel":
      return encodePubrel(p.packetId);
    case "pubcomp":
      return encodePubcomp(p.packetId);
    case "unsuback":
      return encodeUnsuback(p.packetId);
    case "subscribe":
      return encodeSubscribe(p.packetId, p.subscriptions);
    case "suback":
      return encodeSuback(p.packetId, p.returnCodes);
    case "unsubscribe":
      return encodeUnsubscribe(p.packetId, p.topics);
    case "pingreq":
      return encodePingreq();
    case "pingresp":
      return encodePingresp();
    case "disconnect":
      return encodeDisconnect();
  }
}

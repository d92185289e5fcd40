/**
 * Differential codec test against mqtt-packet, both directions, randomized fields:
 * our encoding must equal mqtt-packet's byte for byte and decode to the same packet with
 * mqtt-packet's parser; mqtt-packet's encoding must decode to the same packet with ours.
 */
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { encodePacket, encodePublishEncoded, type Packet } from "../../device/core/mqtt/codec";
import { utf8Encode } from "../../device/core/mqtt/utf8";
import { MqttParser } from "../../device/core/mqtt/parser";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/mqtt/differential.test.ts";
const RUNS = 400; // per packet type and direction

// ---------------------------------------------------------------- arbitraries
/** UTF-8-safe strings without NUL (malformed in MQTT) and, for topics, without wildcards. */
const text = (min: number, max: number) =>
  fc.string({ unit: fc.oneof(fc.constantFrom("a", "/", "é", "水", "😀", " ", "-"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), minLength: min, maxLength: max })
    .filter((s) => !s.includes("\u0000") && (s as unknown as { isWellFormed(): boolean }).isWellFormed() && new TextEncoder().encode(s).length <= 65535);
const topicName = text(1, 40).filter((s) => !/[+#]/.test(s));
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const id = fc.integer({ min: 1, max: 65535 });
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);

const connect: fc.Arbitrary<Packet> = fc
  .record({
    clientId: text(0, 23),
    keepAlive: fc.integer({ min: 0, max: 65535 }),
    cleanSession: fc.boolean(),
    username: fc.option(text(0, 20), { nil: undefined }),
    password: fc.option(bytes(20), { nil: undefined }),
    will: fc.option(fc.record({ topic: topicName, payload: bytes(50), qos, retain: fc.boolean() }), { nil: undefined }),
  })
  .map((r) => {
    const p: Packet = { type: "connect", protocolName: "MQTT", protocolLevel: 4, clientId: r.clientId, cleanSession: r.cleanSession || r.clientId === "", keepAlive: r.keepAlive };
    if (r.will) p.will = r.will;
    if (r.username !== undefined) {
      p.username = r.username;
      if (r.password !== undefined) p.password = r.password;
    }
    return p;
  });

const publish: fc.Arbitrary<Packet> = fc
  .record({ topic: topicName, payload: bytes(300), qos, retain: fc.boolean(), dup: fc.boolean(), packetId: id })
  .map((r) => {
    const p: Packet = { type: "publish", topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain, dup: r.qos > 0 && r.dup };
    if (r.qos > 0) p.packetId = r.packetId;
    return p;
  });

const packet: fc.Arbitrary<Packet> = fc.oneof(
  connect,
  fc.record({ type: fc.constant("connack" as const), sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }),
  publish,
  fc.record({ type: fc.constantFrom("puback" as const, "pubrec" as const, "pubrel" as const, "pubcomp" as const, "unsuback" as const), packetId: id }),
  fc.record({ type: fc.constant("subscribe" as const), packetId: id, subscriptions: fc.array(fc.record({ topic: text(1, 30), qos }), { minLength: 1, maxLength: 5 }) }),
  fc.record({ type: fc.constant("suback" as const), packetId: id, returnCodes: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 5 }) }),
  fc.record({ type: fc.constant("unsubscribe" as const), packetId: id, topics: fc.array(text(1, 30), { minLength: 1, maxLength: 5 }) }),
  fc.record({ type: fc.constantFrom("pingreq" as const, "pingresp" as const, "disconnect" as const) }),
);

// ---------------------------------------------------------------- mapping to mqtt-packet's shapes
type MP = Record<string, unknown> & { cmd: string };
const buf = (b: Uint8Array) => Buffer.from(b);

function toMp(p: Packet): MP {
  switch (p.type) {
    case "connect": {
      const o: MP = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: p.clientId, clean: p.cleanSession, keepalive: p.keepAlive };
      if (p.username !== undefined) o.username = p.username;
      if (p.password !== undefined) o.password = buf(p.password);
      if (p.will) o.will = { topic: p.will.topic, payload: buf(p.will.payload), qos: p.will.qos, retain: p.will.retain };
      return o;
    }
    case "connack":
      return { cmd: "connack", sessionPresent: p.sessionPresent, returnCode: p.returnCode };
    case "publish": {
      const o: MP = { cmd: "publish", topic: p.topic, payload: buf(p.payload), qos: p.qos, retain: p.retain, dup: p.dup };
      if (p.packetId !== undefined) o.messageId = p.packetId;
      return o;
    }
    case "subscribe":
      return { cmd: "subscribe", messageId: p.packetId, subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) };
    case "suback":
      return { cmd: "suback", messageId: p.packetId, granted: p.returnCodes };
    case "unsubscribe":
      return { cmd: "unsubscribe", messageId: p.packetId, unsubscriptions: p.topics };
    case "pingreq":
    case "pingresp":
    case "disconnect":
      return { cmd: p.type };
    default:
      return { cmd: p.type, messageId: p.packetId };
  }
}

/** The fields of a parsed mqtt-packet object that carry meaning, in our shape. */
function fromMp(o: MP): Packet {
  const u8 = (v: unknown) => new Uint8Array(v as Buffer);
  switch (o.cmd) {
    case "connect": {
      const p: Packet = { type: "connect", protocolName: o.protocolId as string, protocolLevel: o.protocolVersion as number, clientId: o.clientId as string, cleanSession: o.clean as boolean, keepAlive: o.keepalive as number };
      const w = o.will as { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean } | undefined;
      if (w) p.will = { topic: w.topic, payload: u8(w.payload), qos: w.qos, retain: w.retain };
      if (o.username !== undefined) p.username = o.username as string;
      if (o.password !== undefined) p.password = u8(o.password);
      return p;
    }
    case "connack":
      return { type: "connack", sessionPresent: o.sessionPresent as boolean, returnCode: o.returnCode as number };
    case "publish": {
      const p: Packet = { type: "publish", topic: o.topic as string, payload: u8(o.payload), qos: o.qos as 0 | 1 | 2, retain: o.retain as boolean, dup: o.dup as boolean };
      if ((o.qos as number) > 0) p.packetId = o.messageId as number;
      return p;
    }
    case "subscribe":
      return { type: "subscribe", packetId: o.messageId as number, subscriptions: (o.subscriptions as { topic: string; qos: 0 | 1 | 2 }[]).map((s) => ({ topic: s.topic, qos: s.qos })) };
    case "suback":
      return { type: "suback", packetId: o.messageId as number, returnCodes: o.granted as number[] };
    case "unsubscribe":
      return { type: "unsubscribe", packetId: o.messageId as number, topics: o.unsubscriptions as string[] };
    case "pingreq":
    case "pingresp":
    case "disconnect":
      return { type: o.cmd };
    default:
      return { type: o.cmd as "puback", packetId: o.messageId as number };
  }
}

function parseOurs(bytes: Uint8Array): Packet[] {
  const out: Packet[] = [];
  const parser = new MqttParser((p) => out.push(p), (r) => { throw new Error(`our parser: ${r}`); }, { maxPacketSize: 1 << 20 });
  parser.push(bytes);
  return out;
}

function parseTheirs(bytes: Uint8Array): MP[] {
  const out: MP[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on("packet", (p) => out.push(p as unknown as MP));
  parser.on("error", (e: Error) => { throw e; });
  parser.parse(Buffer.from(bytes));
  return out;
}

describe("codec vs mqtt-packet", () => {
  test("ours → mqtt-packet: same bytes, same packet", () => {
    const seed = testSeed();
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(packet, (p) => {
          const ours = encodePacket(p);
          const theirs = new Uint8Array(mqttPacket.generate(toMp(p) as never));
          expect(ours).toEqual(theirs);
          const parsed = parseTheirs(ours);
          expect(parsed.length).toBe(1);
          expect(fromMp(parsed[0])).toEqual(p);
        }),
        { seed, numRuns: RUNS * 8 },
      ),
    );
  });

  test("mqtt-packet → ours: same packet, any fragmentation", () => {
    const seed = testSeed();
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(packet, fc.integer({ min: 1, max: 7 }), (p, chunk) => {
          const theirs = new Uint8Array(mqttPacket.generate(toMp(p) as never));
          expect(parseOurs(theirs)).toEqual([fromMp(toMp(p))].map(() => p));
          // Same bytes fed in small fragments give the same result.
          const out: Packet[] = [];
          const parser = new MqttParser((q) => out.push(q), (r) => { throw new Error(r); }, { maxPacketSize: 1 << 20 });
          for (let i = 0; i < theirs.length; i += chunk) parser.push(theirs.subarray(i, i + chunk));
          expect(out).toEqual([p]);
        }),
        { seed: seed ^ 1, numRuns: RUNS * 8 },
      ),
    );
  });

  test("a PUBLISH with its topic encoded by the caller (the client's path): mqtt-packet's bytes", () => {
    const seed = testSeed();
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(fc.record({ topic: topicName, payload: bytes(300), qos: fc.constantFrom(0 as const, 1 as const), retain: fc.boolean(), dup: fc.boolean(), packetId: id }), (r) => {
          const ours = encodePublishEncoded(utf8Encode(r.topic), r.payload, r.qos, r.retain, r.dup, r.qos > 0 ? r.packetId : undefined);
          const p: Packet = { type: "publish", topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain, dup: r.qos > 0 && r.dup };
          if (r.qos > 0) p.packetId = r.packetId;
          expect(ours).toEqual(new Uint8Array(mqttPacket.generate(toMp(p) as never)));
        }),
        { seed: seed ^ 3, numRuns: RUNS * 2 },
      ),
    );
  });

  test("a stream of many packets parses back in order", () => {
    const seed = testSeed();
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(fc.array(packet, { minLength: 1, maxLength: 20 }), (ps) => {
          const all = ps.map((p) => new Uint8Array(mqttPacket.generate(toMp(p) as never)));
          const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
          let o = 0;
          for (const b of all) { joined.set(b, o); o += b.length; }
          expect(parseOurs(joined)).toEqual(ps);
        }),
        { seed: seed ^ 2, numRuns: 100 },
      ),
    );
  });
});

// The broker's fast path (host-sim/broker/fast-path.ts) against the MQTT parser it stands in for:
// on valid and mutated chunks, the fast path followed by the parser on what it left must give the
// same packets, in the same order, and the same error, as the parser alone.
import { describe, expect, it } from "vitest";
import { encodePingreq, encodePuback, encodePublish, encodeSubscribe, type Packet } from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import { readFastPackets, TopicCache, type FastSink } from "../../host-sim/broker/fast-path";
import { SeededRandom } from "../../host-sim/virtual/random";
import { withSeed } from "../helpers/seed";
import { VirtualDriver } from "./drivers";
import { TestClient, bytes, text } from "./test-client";

const FILE = "test/broker/fast-path.test.ts";
const SEEDS = [1, 2, 3, 20261126];
const TOPIC = "tether/dev-0001/telemetry";
const MAX_PACKET = 1024;

/** What a reader made of a chunk: packets as plain objects (payload as an array), then the error if any. */
type Outcome = unknown[];

function plain(p: Packet): unknown {
  return p.type === "publish" ? { ...p, payload: [...p.payload] } : p;
}

function parserAlone(chunk: Uint8Array): Outcome {
  const out: Outcome = [];
  const parser = new MqttParser((p) => out.push(plain(p)), (reason) => out.push({ error: reason }), MAX_PACKET);
  parser.push(chunk);
  if (parser.midPacket) out.push({ partial: true });
  return out;
}

function fastThenParser(chunk: Uint8Array, cache: TopicCache): { out: Outcome; fast: number } {
  const out: Outcome = [];
  let fast = 0;
  const sink: FastSink = {
    open: true,
    fastPublish(topic, payload, qos, retain, dup, packetId) {
      fast++;
      const p: Packet = { type: "publish", topic, payload: payload.slice(), qos, retain, dup };
      if (qos > 0) p.packetId = packetId;
      out.push(plain(p));
    },
    fastPingreq() {
      fast++;
      out.push({ type: "pingreq" });
    },
    fastPuback(packetId) {
      fast++;
      out.push({ type: "puback", packetId });
    },
  };
  const i = readFastPackets(chunk, cache, MAX_PACKET, sink);
  const parser = new MqttParser((p) => out.push(plain(p)), (reason) => out.push({ error: reason }), MAX_PACKET);
  parser.push(chunk.subarray(i));
  if (parser.midPacket) out.push({ partial: true });
  return { out, fast };
}

function frame(r: SeededRandom): Uint8Array {
  switch (r.below(6)) {
    case 0:
      return encodePingreq();
    case 1:
      return encodePuback(1 + r.below(0xffff));
    case 2:
      return encodeSubscribe(1 + r.below(100), [{ topic: "tether/+/config", qos: 1 }]);
    default: {
      const payload = new Uint8Array(r.below(4) === 0 ? 150 + r.below(200) : r.below(40)); // one- and two-byte lengths
      r.fill(payload);
      const qos = r.below(3) as 0 | 1 | 2;
      const topic = r.below(5) === 0 ? "tether/dev-0002/telemetry" : TOPIC;
      const f = encodePublish({ topic, payload, qos, retain: r.below(4) === 0, dup: qos > 0 && r.below(3) === 0, packetId: qos > 0 ? 1 + r.below(0xffff) : undefined });
      if (qos > 0 && r.below(8) === 0) {
        // Packet id 0 (malformed): after the fixed header and the topic.
        const at = (f[1] & 0x80 ? 3 : 2) + 2 + topic.length;
        f[at] = 0;
        f[at + 1] = 0;
      }
      return f;
    }
  }
}

function chunkOf(r: SeededRandom): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let n = 1 + r.below(4); n > 0; n--) parts.push(frame(r));
  let chunk = Uint8Array.from(parts.flatMap((p) => [...p]));
  const mutations = r.below(3);
  for (let m = 0; m < mutations; m++) {
    switch (r.below(4)) {
      case 0:
        chunk[r.below(chunk.length)] = r.below(256);
        break;
      case 1: // a flipped bit, often in a header
        chunk[r.below(Math.min(chunk.length, 6))] ^= 1 << r.below(8);
        break;
      case 2:
        chunk = chunk.slice(0, r.below(chunk.length + 1));
        break;
      default: // a zero packet id or topic length
        chunk[r.below(chunk.length)] = 0;
    }
  }
  return chunk;
}

describe("broker fast path", () => {
  it("reads exactly what the parser reads, on valid and mutated chunks", () => {
    for (const seed of SEEDS) {
      withSeed(seed, FILE, () => {
        const r = new SeededRandom(seed);
        const cache = new TopicCache(TOPIC);
        let fastTotal = 0;
        for (let run = 0; run < 2500; run++) {
          const chunk = chunkOf(r);
          const { out, fast } = fastThenParser(chunk, cache);
          expect(out, `run ${run}: ${[...chunk].map((b) => b.toString(16)).join(" ")}`).toEqual(parserAlone(chunk));
          fastTotal += fast;
        }
        // The comparison means something only if the fast path took a good share of the packets.
        expect(fastTotal).toBeGreaterThan(1200);
      });
    }
  });

  it("takes nothing before the connection's first PUBLISH names its topic, nor after the topic changes", () => {
    const sink = { open: true, fastPublish: () => expect.fail("fast publish"), fastPingreq() {}, fastPuback() {} };
    const publish = encodePublish({ topic: TOPIC, payload: Uint8Array.of(1), qos: 1, retain: false, dup: false, packetId: 7 });
    expect(readFastPackets(publish, undefined, MAX_PACKET, sink)).toBe(0);
    expect(readFastPackets(publish, new TopicCache("tether/dev-0001/status"), MAX_PACKET, sink)).toBe(0);
  });

  it("stops when the connection closes part-way through a chunk", () => {
    const ping = encodePingreq();
    const sink = { open: true, fastPublish() {}, fastPingreq() { sink.open = false; }, fastPuback() {} };
    expect(readFastPackets(Uint8Array.from([...ping, ...ping]), undefined, MAX_PACKET, sink)).toBe(2);
  });
});

describe("virtual broker with the fast path", () => {
  it("routes repeated PUBLISHes, topic changes and QoS 0 alike, and keeps each payload intact after the chunk", async () => {
    const d = new VirtualDriver({});
    const got: string[] = [];
    const payloads: Uint8Array[] = [];
    d.broker.subscribeInternal("t/#", (topic, payload, qos) => {
      got.push(`${topic} ${text(payload)} q${qos}`);
      payloads.push(payload);
    });
    const c = await new TestClient(d).open();
    await c.connect({ clientId: "c1" });
    const send = (topic: string, body: string, qos: 0 | 1, packetId?: number) =>
      c.sendRaw(encodePublish({ topic, payload: bytes(body), qos, retain: false, dup: false, packetId }));
    send("t/a", "one", 1, 1);
    send("t/a", "two", 1, 2); // fast path
    send("t/b", "three", 1, 3); // topic changed: parser
    send("t/b", "four", 0); // fast path, QoS 0
    send("t/a", "five", 1, 4);
    await c.waitPacket("puback", (p) => p.type === "puback" && p.packetId === 4);
    expect(got).toEqual(["t/a one q1", "t/a two q1", "t/b three q1", "t/b four q0", "t/a five q1"]);
    expect(payloads.map(text)).toEqual(["one", "two", "three", "four", "five"]);
    expect(d.broker.publishCount("t/a")).toBe(3);
  });

  it("copies a payload read in place before keeping it (retained, or in flight to a client), and only then", async () => {
    const d = new VirtualDriver({});
    const internal: Uint8Array[] = [];
    d.broker.subscribeInternal("t/#", (_topic, payload) => void internal.push(payload));
    const c = await new TestClient(d).open();
    await c.connect({ clientId: "c1" });
    const send = (topic: string, body: string, retain: boolean, packetId: number) =>
      c.sendRaw(encodePublish({ topic, payload: bytes(body), qos: 1, retain, dup: false, packetId }));
    send("t/x", "first", false, 1);
    send("t/x", "second", false, 2); // fast path, only the internal subscriber: lent as it is
    send("t/x", "third", true, 3); // fast path, retained: copied
    await c.waitPacket("puback", (p) => p.type === "puback" && p.packetId === 3);
    const own = (b: Uint8Array) => b.byteOffset === 0 && b.buffer.byteLength === b.length;
    expect(internal.map(text)).toEqual(["first", "second", "third"]);
    expect(own(internal[1])).toBe(false);
    expect(own(d.broker.retainedMessage("t/x")!.payload)).toBe(true);
    // A client session subscribed: what it is sent stays in flight until its PUBACK, so it is copied.
    const sub = await new TestClient(d).open();
    sub.autoAck = false;
    await sub.connect({ clientId: "c2" });
    await sub.subscribe("t/x");
    send("t/x", "fourth", false, 4);
    await sub.waitPacket("publish", (p) => p.type === "publish" && text(p.payload) === "fourth");
    expect(text(internal[3])).toBe("fourth");
    expect(own(internal[3])).toBe(true);
  });
});

// The broker's parser lends PUBLISH payloads (MqttParser's borrowPayloads: a view into the
// network's copy of the chunk, no copy per message) and the broker copies what it keeps. The
// lending parser must read exactly what the copying one reads, on valid and mutated chunks, whole
// or split; and the broker must copy before keeping a payload, and only then.
import { describe, expect, it } from "vitest";
import { encodePingreq, encodePuback, encodePublish, encodeSubscribe, type Packet } from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import { SeededRandom } from "../../host-sim/virtual/random";
import { withSeed } from "../helpers/seed";
import { VirtualDriver } from "./drivers";
import { TestClient, bytes, text } from "./test-client";

const FILE = "test/broker/borrowed-payload.test.ts";
const SEEDS = [1, 2, 3, 20261126];
const TOPIC = "tether/dev-0001/telemetry";
const MAX_PACKET = 1024;

/** What a parser made of some chunks: packets as plain objects (payload as an array), then the error if any. */
type Outcome = unknown[];

function plain(p: Packet): unknown {
  return p.type === "publish" ? { ...p, payload: [...p.payload] } : p;
}

function parse(chunks: Uint8Array[], borrow: boolean, payloads: Uint8Array[] = []): Outcome {
  const out: Outcome = [];
  const parser = new MqttParser(
    (p) => {
      if (p.type === "publish") payloads.push(p.payload);
      out.push(plain(p));
    },
    (reason) => out.push({ error: reason }),
    { maxPacketSize: MAX_PACKET, borrowPayloads: borrow },
  );
  for (const c of chunks) parser.push(c);
  if (parser.midPacket) out.push({ partial: true });
  return out;
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

describe("a parser that lends payloads", () => {
  it("reads what a copying parser reads, whole or split, and lends views of the chunk it was given", () => {
    for (const seed of SEEDS) {
      withSeed(seed, FILE, () => {
        const r = new SeededRandom(seed);
        let lent = 0;
        for (let run = 0; run < 1200; run++) {
          const chunk = chunkOf(r);
          const where = `run ${run}: ${[...chunk].map((b) => b.toString(16)).join(" ")}`;
          const payloads: Uint8Array[] = [];
          expect(parse([chunk], true, payloads), where).toEqual(parse([chunk], false));
          // Whole in one chunk: every payload is a view of that chunk's bytes, not a copy.
          for (const p of payloads) expect(p.buffer, where).toBe(chunk.buffer);
          lent += payloads.length;
          const cut = r.below(chunk.length + 1);
          const split = [chunk.subarray(0, cut), chunk.subarray(cut)];
          expect(parse(split, true), `${where} cut at ${cut}`).toEqual(parse([chunk], false));
        }
        expect(lent).toBeGreaterThan(700); // the comparison means something only with many PUBLISHes
      });
    }
  });
});

describe("virtual broker with lent payloads", () => {
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
    send("t/a", "two", 1, 2); // the parser's cached topic
    send("t/b", "three", 1, 3); // topic changed
    send("t/b", "four", 0); // QoS 0
    send("t/a", "five", 1, 4);
    await c.waitPacket("puback", (p) => p.type === "puback" && p.packetId === 4);
    expect(got).toEqual(["t/a one q1", "t/a two q1", "t/b three q1", "t/b four q0", "t/a five q1"]);
    expect(payloads.map(text)).toEqual(["one", "two", "three", "four", "five"]);
    expect(d.broker.publishCount("t/a")).toBe(3);
  });

  it("copies a lent payload before keeping it (retained, or in flight to a client), and only then", async () => {
    const d = new VirtualDriver({});
    const internal: Uint8Array[] = [];
    d.broker.subscribeInternal("t/#", (_topic, payload) => void internal.push(payload));
    const c = await new TestClient(d).open();
    await c.connect({ clientId: "c1" });
    const send = (topic: string, body: string, retain: boolean, packetId: number) =>
      c.sendRaw(encodePublish({ topic, payload: bytes(body), qos: 1, retain, dup: false, packetId }));
    send("t/x", "first", false, 1);
    send("t/x", "second", false, 2); // only the internal subscriber: lent as it is
    send("t/x", "third", true, 3); // retained: copied
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

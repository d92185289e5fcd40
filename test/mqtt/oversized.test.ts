/**
 * One incoming PUBLISH over the 16 KiB packet limit must not take the device offline: the
 * parser streams its body past without storing it, the client acknowledges it (QoS 1),
 * counts it and stays connected. Before, the client closed without PUBACK and the broker
 * redelivered the message on every resumed session, for ever. Real brokers: interop.test.ts.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { encodePublish, type Packet } from "../../device/core/mqtt/codec";
import { DEFAULT_MAX_PACKET, MqttParser, OVERSIZED_TOPIC_KEEP, type OversizedPublish } from "../../device/core/mqtt/parser";
import { testSeed, withSeed } from "../helpers/seed";
import { bytes, makeClient, makeRig, TARGET, text } from "./rig";

const FILE = "test/mqtt/oversized.test.ts";
const big = (n: number) => new Uint8Array(n).fill(0x5a);

function parse(chunks: Uint8Array[]) {
  const packets: Packet[] = [];
  const skipped: OversizedPublish[] = [];
  const errors: string[] = [];
  const p = new MqttParser((x) => packets.push(x), (r) => errors.push(r), { maxPacketSize: 1024, onOversized: (x) => skipped.push(x) });
  for (const c of chunks) p.push(c);
  return { packets, skipped, errors, parser: p };
}

function split(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, b.length]) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  return out;
}

describe("parser: oversized PUBLISH skipped while streaming", () => {
  const stream = new Uint8Array([
    ...encodePublish({ topic: "t/big", payload: big(5000), qos: 1, retain: true, packetId: 77 }),
    ...encodePublish({ topic: "t/small", payload: bytes("after"), qos: 1, retain: false, packetId: 78 }),
    ...encodePublish({ topic: "t/big0", payload: big(3000), qos: 0, retain: false }),
    ...encodePublish({ topic: "x".repeat(OVERSIZED_TOPIC_KEEP + 1), payload: big(2000), qos: 1, retain: false, dup: true, packetId: 79 }),
    ...encodePublish({ topic: "t/last", payload: bytes("end"), qos: 0, retain: false }),
  ]);
  const want = {
    skipped: [
      { length: 2 + 5 + 2 + 5000, qos: 1, retain: true, dup: false, packetId: 77, topic: "t/big" },
      { length: 2 + 6 + 3000, qos: 0, retain: false, dup: false, topic: "t/big0" },
      { length: 2 + OVERSIZED_TOPIC_KEEP + 1 + 2 + 2000, qos: 1, retain: false, dup: true, packetId: 79 },
    ],
    topics: ["t/small", "t/last"],
  };

  test("at any fragmentation, the skipped ones are reported and the packets around them parse", () => {
    const seed = testSeed(16384);
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
          const r = parse(split(stream, cuts));
          expect(r.errors).toEqual([]);
          expect(r.skipped).toEqual(want.skipped);
          expect(r.packets.map((p) => (p.type === "publish" ? p.topic : p.type))).toEqual(want.topics);
        }),
        { seed, numRuns: 300 },
      ),
    );
    const one = parse([...stream].map((b) => Uint8Array.of(b))); // one byte per push
    expect(one.skipped).toEqual(want.skipped);
    expect(one.packets).toHaveLength(2);
  });

  test("a body that ends before its packet id is malformed; other oversized packets still fail", () => {
    // Remaining Length 2000 with a topic length of 3000: the header runs past the body.
    const bad = new Uint8Array([0x32, 0xd0, 0x0f, 0x0b, 0xb8, ...big(1998)]);
    expect(parse([bad]).errors).toEqual(["malformed: oversized PUBLISH truncated before its packet id"]);
    const suback = new Uint8Array([0x90, 0xd0, 0x0f, 0, 1, ...big(1998)]);
    expect(parse([suback]).errors[0]).toMatch(/^oversized: remaining length 2000 > max 1024/);
    // Without the callback (the broker side), an oversized PUBLISH is still an error.
    const errors: string[] = [];
    new MqttParser(() => {}, (r) => errors.push(r), { maxPacketSize: 1024 }).push(encodePublish({ topic: "t", payload: big(2000), qos: 0, retain: false }));
    expect(errors[0]).toMatch(/^oversized/);
  });
});

describe("client: oversized PUBLISH acknowledged, counted, connection kept", () => {
  test("QoS 1 retained and not, QoS 0: PUBACKed, reported, still online; no redelivery after reconnect", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.subscribe([{ topic: "tether/dev1/#", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.broker.publishInternal("tether/dev1/config", big(DEFAULT_MAX_PACKET + 1), { qos: 1, retain: true });
    rig.broker.publishInternal("tether/dev1/ota/manifest", big(20_000), { qos: 1 });
    rig.broker.publishInternal("tether/dev1/x", big(20_000), { qos: 0 });
    rig.broker.publishInternal("tether/dev1/config", bytes("small"), { qos: 1 });
    rig.clock.advance(1000);
    expect(client.connected).toBe(true);
    expect(of("closed")).toEqual([]);
    expect(of("oversized").map((e) => [e.topic, e.qos, e.retain])).toEqual([
      ["tether/dev1/config", 1, false],
      ["tether/dev1/ota/manifest", 1, false],
      ["tether/dev1/x", 0, false],
    ]);
    expect(client.oversizedCount).toBe(3);
    expect(of("message").map((e) => text(e.payload))).toEqual(["small"]);
    expect(rig.logs.some((l) => /warn mqtt: skipped a 16\d{3}-byte PUBLISH on tether\/dev1\/config \(limit 16384\)/.test(l))).toBe(true);
    // Every QoS 1 delivery was acknowledged: the broker holds nothing for us.
    expect(rig.broker["sessions"].get("dev1")?.inflightCount).toBe(0);
    rig.net.dropAll();
    rig.clock.advance(100);
    client.connect(TARGET);
    rig.clock.advance(1000);
    expect(client.connected).toBe(true);
    expect(of("oversized")).toHaveLength(3); // nothing redelivered on the resumed session
    // A fresh subscription gets the retained poison again: skipped again, still online.
    client.subscribe([{ topic: "tether/dev1/config", qos: 1 }]);
    rig.clock.advance(1000);
    expect(of("oversized").at(-1)).toMatchObject({ topic: "tether/dev1/config", retain: true });
    expect(client.connected).toBe(true);
  });
});

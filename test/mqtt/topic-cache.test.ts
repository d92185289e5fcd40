/**
 * The parser keeps the last PUBLISH topic of its connection and reuses the string when the same
 * bytes come again. Differential: one long-lived parser (its cache warm with the topics before)
 * must give, for every PUBLISH, exactly what decodeBody gives for that packet alone (no cache):
 * the same packet, or the same error. Topics are drawn from a small pool of near misses (same
 * length, one byte changed, a wildcard or NUL in place of a letter, non-ASCII, invalid UTF-8),
 * so a hit, a miss and a wrong hit all come up many times per seed.
 */
import { describe, expect, test } from "vitest";
import { decodeBody, MqttParser } from "../../device/core/mqtt/parser";
import type { Packet } from "../../device/core/mqtt/codec";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/mqtt/topic-cache.test.ts";
const SEEDS = [1, 2, 3, 20261126];
const STEPS = 3_000;

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
/** Raw topic bytes: valid or not, the parser must judge them as decodeBody does. */
const POOL: number[][] = [
  ascii("tether/dev-0001/telemetry"),
  ascii("tether/dev-0002/telemetry"), // same length, one byte differs
  ascii("tether/dev-0001/telemetrz"), // differs in the last byte
  ascii("uether/dev-0001/telemetry"), // differs in the first byte
  ascii("tether/dev-0001/telemetr"), // one shorter
  ascii("tether/dev-0001/telemetry/x"),
  ascii("tether/dev-000+/telemetry"), // wildcard, same length
  ascii("tether/dev-000#/telemetry"),
  [...ascii("tether/dev-000"), 0, ...ascii("/telemetry")], // NUL, same length
  [...ascii("tether/dev-00"), 0xc3, 0xa9, ...ascii("/telemetry")], // é: 2 bytes, same byte length
  [...ascii("tether/dev-00"), 0xe9, ...ascii("/telemetry")], // é's code point as one byte: invalid, same length as the string above
  [...ascii("tether/dev-000"), 0xff, ...ascii("/telemetry")], // invalid UTF-8, same length
  [...ascii("tether/dev-00"), 0xc3, ...ascii("1/telemetry")], // truncated sequence
  ascii("t"),
  ascii("u"),
  [0xe6, 0xb0, 0xb4], // 水
  [],
];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

/** A PUBLISH packet's bytes around raw topic bytes (built by hand: the encoder refuses bad topics). */
function publishBytes(topic: number[], qos: 0 | 1, id: number, payload: number[]): Uint8Array {
  const body = [topic.length >> 8, topic.length & 0xff, ...topic, ...(qos === 1 ? [id >> 8, id & 0xff] : []), ...payload];
  return Uint8Array.from([0x30 | (qos << 1), body.length, ...body]);
}

type Outcome = { packet: Packet } | { error: string };

function alone(bytes: Uint8Array): Outcome {
  try {
    return { packet: decodeBody(bytes[0], bytes.subarray(2)) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe("the parser's PUBLISH topic cache", () => {
  test.each(SEEDS)("gives what a cold decode gives, packet by packet (seed %i)", (fallback) => {
    const seed = testSeed(fallback);
    withSeed(seed, FILE, () => {
      const random = rng(seed);
      let got: Outcome[] = [];
      const fresh = () => new MqttParser((p) => got.push({ packet: p }), (reason) => got.push({ error: reason }));
      let parser = fresh();
      let hits = 0;
      let last: Uint8Array | undefined;
      for (let step = 0; step < STEPS; step++) {
        const topic = POOL[Math.floor(random() * POOL.length)];
        const qos = random() < 0.5 ? 0 : 1;
        const bytes = publishBytes(topic, qos, 1 + Math.floor(random() * 65535), [step & 0xff, 7]);
        got = [];
        parser.push(bytes);
        expect(got, `step ${step}`).toEqual([alone(bytes)]);
        if (last !== undefined && bytes.subarray(2, 4 + topic.length).join() === last.subarray(2, 4 + topic.length).join()) hits++;
        if ("error" in got[0]) {
          // A failed parser stays failed: start again, warmed with the last good topic.
          parser = fresh();
          if (last !== undefined) parser.push(last);
        } else last = bytes;
      }
      expect(hits).toBeGreaterThan(STEPS / 40); // the same topic twice in a row did come up
    });
  });

  test("the packet it gives is a fresh object with its own payload", () => {
    const got: Packet[] = [];
    const parser = new MqttParser((p) => got.push(p), (r) => { throw new Error(r); });
    const bytes = publishBytes(ascii("a/b"), 1, 9, [1, 2, 3]);
    parser.push(bytes);
    parser.push(bytes);
    expect(got[0]).toEqual(got[1]);
    expect(got[0]).not.toBe(got[1]);
    bytes[bytes.length - 1] = 99;
    expect(got.map((p) => (p.type === "publish" ? [...p.payload] : []))).toEqual([[1, 2, 3], [1, 2, 3]]);
  });
});

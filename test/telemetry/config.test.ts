import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encode as cborxEncode } from "cbor-x";
import {
  CONFIG_CODE,
  CONFIG_KV_KEY,
  acceptConfigMessage,
  decodeConfigResult,
  encodeConfigRequest,
  loadTelemetryConfig,
} from "../../device/core/config/telemetry-config";
import { ConfigChannel, type ConfigTransport } from "../../device/core/config/config-channel";
import { TelemetryReporter } from "../../device/core/telemetry/reporter";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { SeededRandom } from "../../host-sim/virtual/random";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";
import { testSeed } from "../helpers/seed";

const CUR = { sampleIntervalMs: 60_000, reportIntervalMs: 300_000 };
const map = (entries: [unknown, unknown][]) => Uint8Array.from(cborxEncode(new Map(entries)));

/** An in-memory transport that records what the channel subscribes to and publishes. */
class RecordingTransport implements ConfigTransport {
  subs: string[] = [];
  out: { topic: string; payload: Uint8Array; qos: number; retain?: boolean }[] = [];
  subscribe(topics: { topic: string; qos: 0 | 1 }[]) {
    this.subs.push(...topics.map((t) => `${t.topic}@${t.qos}`));
  }
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain?: boolean) {
    this.out.push({ topic, payload, qos, retain });
    return 1;
  }
}

describe("config validation", () => {
  it("accepts a valid change, echoes the request id and persists it", () => {
    const kv = new MemoryKv();
    const r = acceptConfigMessage(CUR, encodeConfigRequest({ requestId: 9, reportIntervalSec: 120 }), kv);
    expect(r.outcome.ok).toBe(true);
    expect(r.config).toEqual({ sampleIntervalMs: 60_000, reportIntervalMs: 120_000 });
    expect(decodeConfigResult(r.reply)).toEqual({ requestId: 9, code: 0, reportIntervalSec: 120, sampleIntervalSec: 60 });
    expect(loadTelemetryConfig(kv, CUR)).toEqual(r.config);
  });

  it("every bad message gets an error reply and changes nothing, stored config included", () => {
    const bad: [string, Uint8Array, number][] = [
      ["garbage", Uint8Array.of(0xff, 0x00), CONFIG_CODE.malformed],
      ["empty", new Uint8Array(), CONFIG_CODE.malformed],
      ["not a map", Uint8Array.from(cborxEncode([1, 2])), CONFIG_CODE.malformed],
      ["string keys", Uint8Array.from(cborxEncode({ reportIntervalSec: 60 })), CONFIG_CODE.unknownKey],
      ["unknown key", map([[1, 60], [9, 1]]), CONFIG_CODE.unknownKey],
      ["too small", map([[1, 1]]), CONFIG_CODE.outOfRange],
      ["too large", map([[2, 100_000]]), CONFIG_CODE.outOfRange],
      ["float", map([[1, 60.5]]), CONFIG_CODE.outOfRange],
      // A half float: refused by the pre-scan, on Node as on the board (where cbor-x's half decode hits a read-only buffer).
      ["half float", Uint8Array.of(0xa1, 0x01, 0xf9, 0x53, 0x80), CONFIG_CODE.malformed],
      ["text value", map([[1, "60"]]), CONFIG_CODE.outOfRange],
      ["report < sample", map([[1, 30], [2, 60]]), CONFIG_CODE.outOfRange],
      ["bad request id", map([[0, -1], [1, 60]]), CONFIG_CODE.malformed],
      ["oversized", new Uint8Array(300), CONFIG_CODE.malformed],
    ];
    const kv = new MemoryKv();
    acceptConfigMessage(CUR, encodeConfigRequest({ reportIntervalSec: 600 }), kv);
    const stored = kv.get(CONFIG_KV_KEY);
    for (const [name, bytes, code] of bad) {
      const r = acceptConfigMessage(CUR, bytes, kv);
      expect(r.outcome.ok, name).toBe(false);
      expect(r.config, name).toBe(CUR);
      const reply = decodeConfigResult(r.reply);
      expect(reply.code, name).toBe(code);
      expect(reply.error, name).toMatch(/./);
      expect(reply.reportIntervalSec, name).toBe(300); // the config in force, unchanged
      expect(kv.get(CONFIG_KV_KEY), name).toEqual(stored);
    }
  });

  it("accepts JSON from a shell and answers in JSON; bad JSON is refused the same way", () => {
    const kv = new MemoryKv();
    const json = (t: string) => new TextEncoder().encode(t);
    const reply = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
    const ok = acceptConfigMessage(CUR, json('{"id": 4, "reportIntervalSec": 90, "sampleIntervalSec": 30}'), kv);
    expect(ok.config).toEqual({ sampleIntervalMs: 30_000, reportIntervalMs: 90_000 });
    expect(reply(ok.reply)).toEqual({ id: 4, code: 0, reportIntervalSec: 90, sampleIntervalSec: 30 });
    expect(loadTelemetryConfig(kv, CUR)).toEqual(ok.config);
    for (const [text, code] of [
      ['{"reportIntervalSec": "60"}', CONFIG_CODE.outOfRange],
      ['{"reportIntervalSecs": 60}', CONFIG_CODE.unknownKey],
      ['{"reportIntervalSec": 60', CONFIG_CODE.malformed],
      ['{"__proto__": {"x": 1}}', CONFIG_CODE.unknownKey],
    ] as const) {
      const r = acceptConfigMessage(ok.config, json(text), kv);
      expect(r.config, text).toBe(ok.config);
      expect(reply(r.reply).code, text).toBe(code);
      expect(reply(r.reply).error, text).toMatch(/./);
    }
    expect(loadTelemetryConfig(kv, CUR)).toEqual(ok.config);
  });

  it("a full store refuses the change: error reply, nothing applied", () => {
    const kv = new MemoryKv(33); // room for an entry header, not the value
    const r = acceptConfigMessage(CUR, encodeConfigRequest({ requestId: 3, reportIntervalSec: 60 }), kv);
    expect(r.outcome.ok).toBe(false);
    expect(r.config).toBe(CUR);
    expect(decodeConfigResult(r.reply)).toMatchObject({ requestId: 3, code: CONFIG_CODE.storageFailed });
  });

  it("a corrupt stored config falls back to defaults with a warning", () => {
    const kv = new MemoryKv();
    kv.set(CONFIG_KV_KEY, Uint8Array.of(0xa1, 0x01));
    const logs: string[] = [];
    expect(loadTelemetryConfig(kv, CUR, (_l, m) => logs.push(m))).toEqual(CUR);
    expect(logs[0]).toMatch(/stored config ignored/);
  });
});

describe("config validation, randomized", () => {
  const SEED = testSeed(Date.now() % 1_000_000);
  it(`never throws; a refusal changes nothing, an acceptance is in range (replay: SEED=${SEED} npx vitest run test/telemetry/config.test.ts)`, () => {
    const value = fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
    const key = fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constantFrom("id", "reportIntervalSec", "x"));
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 5 }), fc.boolean(), (entries, asJson) => {
        const bytes = asJson
          ? new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [String(k), v]))))
          : Uint8Array.from(cborxEncode(new Map(entries)));
        const kv = new MemoryKv();
        const r = acceptConfigMessage(CUR, bytes, kv);
        if (!r.outcome.ok) {
          expect(r.config).toBe(CUR);
          expect(kv.keys()).toEqual([]);
        } else {
          expect(r.config.sampleIntervalMs).toBeGreaterThanOrEqual(1000);
          expect(r.config.reportIntervalMs).toBeGreaterThanOrEqual(Math.max(5000, r.config.sampleIntervalMs));
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe("ConfigChannel on a live reporter", () => {
  it("subscribes on connect, applies a good config to the running reporter and answers both good and bad", () => {
    const clock = new VirtualClock();
    const sent: number[] = [];
    const reporter = new TelemetryReporter(
      {
        clock,
        wallClock: new VirtualWallClock(clock),
        sensors: new SimSensors(clock, new SeededRandom(1)),
        identity: { deviceId: "d1", firmware: "1", slot: 0, resetReason: "power-on" },
        nextSeq: () => 0,
        publish: () => sent.push(clock.now()),
      },
      CUR,
    );
    const t = new RecordingTransport();
    const kv = new MemoryKv();
    const ch = new ConfigChannel("d1", t, reporter, kv);
    ch.onConnected();
    expect(t.subs).toEqual(["tether/d1/config@1"]);
    reporter.start();
    clock.advance(600_000);
    expect(sent).toEqual([300_000, 600_000]);

    expect(ch.onMessage("tether/d1/telemetry", new Uint8Array())).toBe(false);
    expect(ch.onMessage("tether/d1/config", map([[1, "soon"]]))).toBe(true);
    expect(reporter.currentConfig).toEqual(CUR);
    expect(ch.onMessage("tether/d1/config", encodeConfigRequest({ requestId: 1, reportIntervalSec: 60, sampleIntervalSec: 10 }))).toBe(true);
    expect(t.out.map((o) => [o.topic, o.qos, decodeConfigResult(o.payload).code])).toEqual([
      ["tether/d1/config/result", 1, CONFIG_CODE.outOfRange],
      ["tether/d1/config/result", 1, CONFIG_CODE.ok],
    ]);
    clock.advance(180_000);
    expect(sent.slice(2)).toEqual([660_000, 720_000, 780_000]);
    // After a reboot the stored config is what boots.
    expect(loadTelemetryConfig(MemoryKv.load(kv.dump()), CUR)).toEqual({ sampleIntervalMs: 10_000, reportIntervalMs: 60_000 });
  });
});

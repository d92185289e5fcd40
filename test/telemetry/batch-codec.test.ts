/**
 * Differential tests. (1) The telemetry batch writer (device/core/telemetry/cbor-writer.ts, used by
 * encodeTelemetryBatch) against cbor-x encoding the Map form the batch had before it, with the
 * project's cbor-x options (device/core/util/cbor.ts): the same bytes, for random batches
 * (property, fixed seeds) and for every head-size boundary. (2) The batch reader (the fast path
 * of decodeTelemetryBatch) against the general cbor-x path: whenever it reads a batch, from our
 * bytes or from mutated and re-encoded ones, it is the batch the general path reads. Replay one seed with
 * SEED=n npx vitest run test/telemetry/batch-codec.test.ts.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { cborEncode } from "../../device/core/util/cbor";
import { CborWriter, MAJOR_ARRAY, MAJOR_MAP } from "../../device/core/telemetry/cbor-writer";
import {
  BATTERY_ALARM_CODES,
  K,
  KB,
  KL,
  KM,
  KS,
  LINK_STATE_CODES,
  RESET_REASON_CODES,
  TELEMETRY_FORMAT,
  TIME_BASES,
  decodeTelemetryBatchGeneral,
  decodeTelemetrySeqAndAlarm,
  decodeTelemetryBatch,
  encodeTelemetryBatch,
  type TelemetryBatch,
  type TelemetrySample,
} from "../../device/core/telemetry/record";
import { readBatchFast, readBatchSeqAndAlarm } from "../../device/core/telemetry/batch-reader";
import { testSeed } from "../helpers/seed";

const SEEDS = process.env.SEED ? [testSeed()] : [1, 2, 3, 20261126];

/** The documented wire shape as a Map, in the order the encoder wrote it before the writer. */
function referenceMap(b: TelemetryBatch): Map<number, unknown> {
  let min = b.madeAtMs;
  for (const s of b.samples) if (s.tMs < min) min = s.tMs;
  const baseMs = Math.floor(min / 1000) * 1000;
  const m = new Map<number, unknown>([
    [K.format, TELEMETRY_FORMAT],
    [K.deviceId, b.deviceId],
    [K.seq, b.seq],
    [K.firmware, b.firmware],
    [K.slot, b.slot],
    [K.resetReason, RESET_REASON_CODES.indexOf(b.resetReason)],
    [K.timeBase, b.timeBase === "uptime" ? 0 : 1],
    [K.baseSec, baseMs / 1000],
    [K.madeAtMs, b.madeAtMs - baseMs],
    [K.uptimeSec, Math.floor(b.uptimeMs / 1000)],
  ]);
  if (b.link) {
    const l = new Map<number, number>([[KL.state, LINK_STATE_CODES.indexOf(b.link.state)], [KL.reconnects, b.link.reconnects]]);
    if (b.link.queued !== undefined) l.set(KL.queued, b.link.queued);
    if (b.link.dropped !== undefined) l.set(KL.dropped, b.link.dropped);
    if (b.link.oversized) l.set(KL.oversized, b.link.oversized);
    m.set(K.link, l);
  }
  if (b.battery) {
    const x = b.battery;
    const bm = new Map<number, number>([[KB.mv, x.mv], [KB.pct, x.pct], [KB.status, x.status]]);
    if (x.alarm !== undefined) bm.set(KB.alarm, BATTERY_ALARM_CODES.indexOf(x.alarm));
    if (x.dropBpPerHour !== undefined) bm.set(KB.dropBpPerHour, x.dropBpPerHour);
    if (x.timeToEmptyMin !== undefined) bm.set(KB.timeToEmptyMin, x.timeToEmptyMin);
    m.set(K.battery, bm);
  }
  if (b.memory) {
    const x = b.memory;
    m.set(K.memory, new Map<number, number>([[KM.slotsUsed, x.slotsUsed], [KM.slotsFree, x.slotsFree], [KM.chunkBytesUsed, x.chunkBytesUsed], [KM.chunkBytesFree, x.chunkBytesFree]]));
  }
  if (b.reportIntervalSec !== undefined) m.set(K.reportIntervalSec, b.reportIntervalSec);
  if (b.samplesDropped !== undefined && b.samplesDropped > 0) m.set(K.samplesDropped, b.samplesDropped);
  m.set(
    K.samples,
    b.samples.map((s) => {
      const sm = new Map<number, number>([[KS.offsetMs, s.tMs - baseMs]]);
      if (s.temperatureCentiC !== undefined) sm.set(KS.temperatureCentiC, s.temperatureCentiC);
      if (s.humidityPermille !== undefined) sm.set(KS.humidityPermille, s.humidityPermille);
      if (s.rssiDbm !== undefined) sm.set(KS.rssiDbm, s.rssiDbm);
      return sm;
    }),
  );
  return m;
}

const U32 = 0xffffffff;
/** Integers that hit every head size and its edges more often than a uniform draw would. */
const edgy = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min, max }),
    fc.constantFrom(...[0, 23, 24, 255, 256, 65535, 65536, U32, -1, -24, -25, -256, -257, -65536, -65537].filter((v) => v >= min && v <= max), min, max),
  );
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
// Well-formed text (the writer and cbor-x differ on lone surrogates, which never reach here).
const text = (min: number, max: number) => fc.string({ unit: fc.constantFrom("a", "Z", "-", "é", "€", "𝄞", "\u007f", "\u0800"), minLength: min, maxLength: max });

const sampleArb = (t0: number): fc.Arbitrary<TelemetrySample> =>
  fc.record(
    {
      tMs: fc.integer({ min: t0, max: t0 + 5_000_000 }),
      temperatureCentiC: optional(edgy(-27315, 100000)),
      humidityPermille: optional(edgy(0, 1000)),
      rssiDbm: optional(edgy(-200, 0)),
    },
    { requiredKeys: ["tMs"] },
  );

const batchArb: fc.Arbitrary<TelemetryBatch> = fc
  .record({ t0: fc.integer({ min: 0, max: 4_000_000_000_000 }), wall: fc.boolean() })
  .chain(({ t0, wall }) =>
    fc.record(
      {
        deviceId: text(1, 64),
        seq: edgy(0, U32),
        firmware: text(0, 32),
        slot: fc.constantFrom(0 as const, 1 as const),
        resetReason: fc.constantFrom(...RESET_REASON_CODES),
        timeBase: fc.constant(wall ? ("wall" as const) : ("uptime" as const)),
        madeAtMs: fc.integer({ min: t0, max: t0 + 5_000_000 }),
        uptimeMs: fc.integer({ min: 0, max: U32 * 1000 }),
        link: optional(
          fc.record(
            { state: fc.constantFrom(...LINK_STATE_CODES), reconnects: edgy(0, U32), queued: optional(edgy(0, U32)), dropped: optional(edgy(0, U32)), oversized: optional(edgy(0, U32)) },
            { requiredKeys: ["state", "reconnects"] },
          ),
        ),
        battery: optional(
          fc.record(
            {
              mv: edgy(0, 65535),
              pct: fc.integer({ min: 0, max: 100 }),
              status: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const, 4 as const, 5 as const, 6 as const),
              alarm: optional(fc.constantFrom(...BATTERY_ALARM_CODES)),
              dropBpPerHour: optional(edgy(0, 10000)),
              timeToEmptyMin: optional(edgy(0, U32)),
            },
            { requiredKeys: ["mv", "pct", "status"] },
          ),
        ),
        memory: optional(fc.record({ slotsUsed: edgy(0, U32), slotsFree: edgy(0, U32), chunkBytesUsed: edgy(0, U32), chunkBytesFree: edgy(0, U32) })),
        samples: fc.array(sampleArb(t0), { maxLength: 30 }),
        samplesDropped: optional(edgy(0, U32)),
        reportIntervalSec: optional(edgy(1, 86400)),
      },
      { requiredKeys: ["deviceId", "seq", "firmware", "slot", "resetReason", "timeBase", "madeAtMs", "uptimeMs", "samples"] },
    ),
  );

/** Equal bytes; a mismatch is shown as hex around the first difference (deep equality on 200 kB is slow). */
function expectSame(ours: Uint8Array, theirs: Uint8Array, what: string): void {
  if (Buffer.from(ours).equals(Buffer.from(theirs))) return;
  let i = 0;
  while (i < ours.length && ours[i] === theirs[i]) i++;
  const hex = (b: Uint8Array) => Buffer.from(b.subarray(Math.max(0, i - 4), i + 8)).toString("hex");
  expect(`${what}: length ${ours.length}, differs at ${i}: ${hex(ours)}`).toBe(`${what}: length ${theirs.length}, differs at ${i}: ${hex(theirs)}`);
}

describe("telemetry batch writer vs cbor-x (the Map form), byte for byte", () => {
  for (const seed of SEEDS) {
    it(`random batches, seed ${seed} (replay: SEED=${seed} npx vitest run test/telemetry/batch-codec.test.ts)`, () => {
      fc.assert(
        fc.property(batchArb, (b) => {
          expectSame(encodeTelemetryBatch(b, 1 << 20), cborEncode(referenceMap(b)), "batch");
        }),
        { seed, numRuns: 400 },
      );
    });
  }

  it("every head boundary: integers, text, map and array counts", () => {
    const w = new CborWriter(4);
    const ints = [0, 1, 23, 24, 255, 256, 65535, 65536, U32, -1, -24, -25, -256, -257, -65536, -65537, -U32 - 1, -0];
    for (const v of ints) {
      w.reset();
      w.int(v);
      expectSame(w.bytes(), cborEncode(v), `int ${v}`);
    }
    for (const n of [0, 1, 23, 24, 31, 32, 63, 64, 255, 256, 1000, 65535, 65536]) {
      for (const unit of ["a", "é", "€", "𝄞"]) {
        const s = unit.repeat(n);
        w.reset();
        w.text(s);
        expectSame(w.bytes(), cborEncode(s), `text ${n}×${unit}`);
      }
    }
    for (const n of [0, 23, 24, 255, 256, 65536]) {
      w.reset();
      w.head(MAJOR_ARRAY, n);
      for (let i = 0; i < n; i++) w.int(i % 30);
      expectSame(w.bytes(), cborEncode(Array.from({ length: n }, (_, i) => i % 30)), `array of ${n}`);
      w.reset();
      w.head(MAJOR_MAP, n);
      for (let i = 0; i < n; i++) {
        w.int(i);
        w.int(-1);
      }
      expectSame(w.bytes(), cborEncode(new Map(Array.from({ length: n }, (_, i) => [i, -1]))), `map of ${n}`);
    }
  });
});

const readFast = (bytes: Uint8Array) => readBatchFast(bytes, RESET_REASON_CODES, TIME_BASES);
function general(bytes: Uint8Array): TelemetryBatch | string {
  try {
    return decodeTelemetryBatchGeneral(bytes);
  } catch (e) {
    return (e as Error).message;
  }
}

/** The build-nothing pass declines exactly where the fast path does, and gives what a full decode gives. */
function expectSameSeqAndAlarm(bytes: Uint8Array): void {
  const fast = readFast(bytes);
  const packed = readBatchSeqAndAlarm(bytes, RESET_REASON_CODES, TIME_BASES);
  expect(packed < 0).toBe(fast === undefined);
  let full: { seq: number; alarm: unknown } | string;
  try {
    const b = decodeTelemetryBatch(bytes);
    full = { seq: b.seq, alarm: b.battery?.alarm };
  } catch (e) {
    full = (e as Error).message;
  }
  let light: { seq: number; alarm: unknown } | string;
  try {
    light = decodeTelemetrySeqAndAlarm(bytes);
  } catch (e) {
    light = (e as Error).message;
  }
  expect(light).toEqual(full);
}

describe("telemetry batch reader (fast path) vs the general cbor-x path", () => {
  for (const seed of SEEDS) {
    it(`reads every batch the writer makes, as the general path does; seed ${seed} (replay: SEED=${seed} npx vitest run test/telemetry/batch-codec.test.ts)`, () => {
      fc.assert(
        fc.property(batchArb, (b) => {
          const bytes = encodeTelemetryBatch(b, 1 << 20);
          const fast = readFast(bytes);
          // It reads ASCII text only (device ids and versions are ASCII); otherwise it declines.
          const ascii = /^[\x00-\x7f]*$/.test(b.deviceId + b.firmware);
          expect(fast === undefined, "the fast path takes the writer's own output when the text is ASCII").toBe(!ascii);
          if (fast !== undefined) expect(fast).toEqual(decodeTelemetryBatchGeneral(bytes));
          expectSameSeqAndAlarm(bytes);
        }),
        { seed, numRuns: 300 },
      );
    });

    it(`on mutated bytes it either declines or agrees with the general path; seed ${seed}`, () => {
      const edit = fc.oneof(
        fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
        fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      );
      let declined = 0;
      let agreed = 0;
      fc.assert(
        fc.property(batchArb, fc.array(edit, { minLength: 1, maxLength: 3 }), (b, edits) => {
          let bytes = encodeTelemetryBatch(b, 1 << 20);
          for (const e of edits) {
            const at = e.at % (bytes.length + 1);
            if (e.kind === "flip" && at < bytes.length) bytes[at] ^= 1 << e.bit;
            else if (e.kind === "set" && at < bytes.length) bytes[at] = e.byte;
            else if (e.kind === "cut") bytes = bytes.slice(0, at);
            else if (e.kind === "insert") bytes = Uint8Array.from([...bytes.subarray(0, at), e.byte, ...bytes.subarray(at)]);
          }
          const fast = readFast(bytes);
          if (fast === undefined) declined++;
          else {
            agreed++;
            expect(fast).toEqual(general(bytes));
          }
          expectSameSeqAndAlarm(bytes);
        }),
        { seed, numRuns: 1000 },
      );
      // Both branches were exercised (single-byte edits to numbers often keep a valid batch).
      expect(declined).toBeGreaterThan(0);
      expect(agreed).toBeGreaterThan(0);
    });
  }

  it("declines what is outside the writer's shape; the general path still reads it", () => {
    const b: TelemetryBatch = { deviceId: "d1", seq: 7, firmware: "1.0.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: 1_000_000, uptimeMs: 5000, samples: [{ tMs: 1_000_000, rssiDbm: -50 }] };
    const m = referenceMap(b);
    const variants: Array<[string, Map<number, unknown>]> = [
      ["unknown key", new Map([...m, [99, "future"]])],
      ["samples before baseSec", new Map([...m].sort(([a], [c]) => (a === K.samples ? -1 : c === K.samples ? 1 : 0)))],
      ["non-ASCII device id", new Map([...m, [K.deviceId, "dévice"]])],
    ];
    for (const [what, variant] of variants) {
      const bytes = cborEncode(variant);
      expect(readFast(bytes), what).toBeUndefined();
      expect(decodeTelemetryBatchGeneral(bytes).seq, what).toBe(7);
    }
    // An 8-byte head for seq: declined, and read by the general path.
    const bytes = encodeTelemetryBatch(b);
    const at = bytes.indexOf(0x07, 4); // seq 7, just after key 2
    const long = Uint8Array.from([...bytes.subarray(0, at), 0x1b, 0, 0, 0, 0, 0, 0, 0, 7, ...bytes.subarray(at + 1)]);
    expect(readFast(long)).toBeUndefined();
    // Trailing bytes and truncation: declined, and refused by the general path.
    for (const broken of [Uint8Array.from([...bytes, 0]), bytes.subarray(0, bytes.length - 1)]) {
      expect(readFast(broken)).toBeUndefined();
      expect(() => decodeTelemetryBatchGeneral(broken)).toThrow(/CBOR|truncated|end of buffer/);
    }
    expect(decodeTelemetryBatchGeneral(long)).toEqual(readFast(bytes));
  });
  it("key 15 (reporting interval, s): absent in old batches, 1..86400 when present, anything else refused on both paths", () => {
    const b: TelemetryBatch = { deviceId: "d1", seq: 7, firmware: "1.0.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: 1_000_000, uptimeMs: 5000, samples: [] };
    const old = encodeTelemetryBatch(b); // a batch from firmware before the key
    expect(decodeTelemetryBatch(old).reportIntervalSec).toBeUndefined();
    expect(readFast(old)?.reportIntervalSec).toBeUndefined();
    for (const sec of [1, 300, 4800, 86400]) {
      const bytes = encodeTelemetryBatch({ ...b, reportIntervalSec: sec });
      expect(readFast(bytes)?.reportIntervalSec).toBe(sec);
      expect(decodeTelemetryBatchGeneral(bytes).reportIntervalSec).toBe(sec);
    }
    for (const bad of [0, 86401, U32]) {
      expect(() => encodeTelemetryBatch({ ...b, reportIntervalSec: bad })).toThrow(/reportIntervalSec must be an integer in 1\.\.86400/);
      const bytes = cborEncode(new Map([...referenceMap(b), [K.reportIntervalSec, bad]]));
      expect(readFast(bytes)).toBeUndefined();
      expect(() => decodeTelemetryBatchGeneral(bytes)).toThrow(/reportIntervalSec \(key 15\) must be an integer in 1\.\.86400/);
    }
  });
});

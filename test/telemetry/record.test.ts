import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decode as cborxDecode } from "cbor-x";
import {
  TELEMETRY_MAX_BYTES,
  TelemetryError,
  decodeTelemetryBatch,
  encodeTelemetryBatch,
  fitSamples,
  type TelemetryBatch,
} from "../../device/core/telemetry/record";
import { formatTelemetry, isoFromUnixMs } from "../../device/core/telemetry/format";
import { testSeed } from "../helpers/seed";

const SEED = testSeed(Date.now() % 1_000_000);
const replay = `SEED=${SEED} npx vitest run test/telemetry/record.test.ts`;

function batch(n: number, over: Partial<TelemetryBatch> = {}): TelemetryBatch {
  const t0 = 1_795_000_000_123;
  return {
    deviceId: "dev-1",
    seq: 42,
    firmware: "1.2.3",
    slot: 1,
    resetReason: "brownout",
    timeBase: "wall",
    madeAtMs: t0 + n * 60_000,
    uptimeMs: 3_600_000, // carried in whole seconds
    link: { state: "online", reconnects: 3, queued: 2, dropped: 0 },
    battery: { mv: 3912, pct: 70, status: 0, alarm: "none", dropBpPerHour: 61, timeToEmptyMin: 5432 },
    samples: Array.from({ length: n }, (_, i) => ({
      tMs: t0 + i * 60_000,
      temperatureCentiC: 2153 - i,
      humidityPermille: 456,
      rssiDbm: -67,
    })),
    ...over,
  };
}

describe(`telemetry batch codec (replay: ${replay})`, () => {
  it("round-trips every field", () => {
    const b = batch(5);
    expect(decodeTelemetryBatch(encodeTelemetryBatch(b))).toEqual(b);
    const up: TelemetryBatch = { ...batch(2), timeBase: "uptime", madeAtMs: 5000, samples: [{ tMs: 999 }, { tMs: 4000, rssiDbm: -90 }], link: undefined, battery: undefined };
    delete up.link;
    delete up.battery;
    expect(decodeTelemetryBatch(encodeTelemetryBatch(up))).toEqual(up);
  });

  it("carries the board's free heap when there is one, under key 14, and refuses figures out of range", () => {
    const memory = { slotsUsed: 2721, slotsFree: 1375, chunkBytesUsed: 63296, chunkBytesFree: 18624 };
    const b = batch(2, { memory });
    const bytes = encodeTelemetryBatch(b);
    expect(decodeTelemetryBatch(bytes)).toEqual(b);
    expect(cborxDecode(bytes)[14]).toEqual({ 0: 2721, 1: 1375, 2: 63296, 3: 18624 });
    // Absent, the bytes are what they were before the field existed (sim devices' traces keep their hash).
    expect(cborxDecode(encodeTelemetryBatch(batch(2)))[14]).toBeUndefined();
    expect(() => encodeTelemetryBatch(batch(1, { memory: { ...memory, slotsFree: -1 } }))).toThrow(/memory.slotsFree/);
    expect(() => encodeTelemetryBatch(batch(1, { memory: { ...memory, chunkBytesUsed: 2 ** 32 } }))).toThrow(/memory.chunkBytesUsed/);
    expect(formatTelemetry(b)).toContain("memory   slots 2721 used, 1375 free; chunks 63296 bytes used, 18624 free");
  });

  it("is plain CBOR with small integer keys and no floats (any decoder reads it)", () => {
    const bytes = encodeTelemetryBatch(batch(3));
    // A generic decoder with default options sees a map keyed by integers.
    const plain = cborxDecode(bytes);
    expect(plain[1]).toBe("dev-1");
    expect(plain[2]).toBe(42);
    // No float major-type-7 heads (0xf9/0xfa/0xfb) and no tags (major type 6) anywhere:
    // walk the items properly rather than scanning bytes.
    const heads: number[] = [];
    let i = 0;
    const walk = (): void => {
      const ib = bytes[i++];
      const mt = ib >> 5;
      const ai = ib & 31;
      heads.push(ib);
      let len = ai;
      if (ai === 24) len = bytes[i++];
      else if (ai === 25) { len = (bytes[i] << 8) | bytes[i + 1]; i += 2; }
      else if (ai === 26) { len = ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3]; i += 4; }
      else if (ai === 27) throw new Error("64-bit value in telemetry");
      if (mt === 2 || mt === 3) i += len;
      else if (mt === 4) for (let k = 0; k < len; k++) walk();
      else if (mt === 5) for (let k = 0; k < 2 * len; k++) walk();
      else if (mt === 6 || mt === 7) throw new Error(`tag or float head 0x${ib.toString(16)}`);
    };
    walk();
    expect(i).toBe(bytes.length);
  });

  it("rejects bad fields with a clear error instead of encoding garbage", () => {
    expect(() => encodeTelemetryBatch(batch(1, { seq: -1 }))).toThrow(/seq/);
    expect(() => encodeTelemetryBatch(batch(1, { slot: 2 as 0 }))).toThrow(/slot/);
    expect(() => encodeTelemetryBatch(batch(1, { resetReason: "gremlins" as never }))).toThrow(/resetReason/);
    expect(() => encodeTelemetryBatch(batch(1, { battery: { mv: 3900, pct: 101, status: 0 } }))).toThrow(/pct/);
    const b = batch(1);
    b.samples[0].humidityPermille = 1.5;
    expect(() => encodeTelemetryBatch(b)).toThrow(TelemetryError);
    const late = batch(1);
    late.samples[0].tMs = late.madeAtMs + 1; // base is the minimum, so this still encodes
    expect(decodeTelemetryBatch(encodeTelemetryBatch(late)).samples[0].tMs).toBe(late.madeAtMs + 1);
  });

  it("enforces the byte limit and fitSamples finds the largest prefix that fits", () => {
    const big = batch(200);
    expect(() => encodeTelemetryBatch(big)).toThrow(/limit 1024/);
    const n = fitSamples(big);
    expect(n).toBeGreaterThan(20);
    const ok = encodeTelemetryBatch({ ...big, samples: big.samples.slice(0, n) });
    expect(ok.length).toBeLessThanOrEqual(TELEMETRY_MAX_BYTES);
    expect(() => encodeTelemetryBatch({ ...big, samples: big.samples.slice(0, n + 1) })).toThrow(/too-large|limit/);
    expect(fitSamples(batch(3), 60)).toBe(0);
  });

  it("fitSamples is exact for random batches and limits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 80, max: 1500 }), fc.integer({ min: 0, max: 500_000 }), (n, limit, spread) => {
        const b = batch(n);
        b.samples.forEach((s, i) => (s.tMs = b.madeAtMs - spread * (n - i)));
        const fit = fitSamples(b, limit);
        const pre = { ...b, samples: b.samples.slice(0, fit) };
        if (fit > 0) expect(encodeTelemetryBatch(pre, limit).length).toBeLessThanOrEqual(limit);
        if (fit < n) expect(() => encodeTelemetryBatch({ ...b, samples: b.samples.slice(0, fit + 1) }, limit)).toThrow(TelemetryError);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it("decoding garbage gives a TelemetryError, never a crash", () => {
    const good = encodeTelemetryBatch(batch(4));
    const cases = [new Uint8Array(), Uint8Array.of(0xff), Uint8Array.of(0x01), good.slice(0, good.length - 3), Uint8Array.of(0xa0)];
    for (const c of cases) expect(() => decodeTelemetryBatch(c)).toThrow(TelemetryError);
    // Random single-byte mutations: either decodes to a valid batch or throws TelemetryError.
    let s = SEED >>> 0;
    for (let k = 0; k < 3000; k++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const m = good.slice();
      m[s % m.length] = (s >>> 8) & 0xff;
      try {
        const d = decodeTelemetryBatch(m);
        expect(typeof d.deviceId).toBe("string");
      } catch (e) {
        if (!(e instanceof TelemetryError)) throw new Error(`mutation ${k} threw ${String(e)}; replay: ${replay}`);
      }
    }
  });

  it("formats a batch for humans", () => {
    const text = formatTelemetry(decodeTelemetryBatch(encodeTelemetryBatch(batch(2))));
    expect(text).toContain("dev-1 #42 at 2026-11-18T");
    expect(text).toContain("battery  3.912 V 70% normal, -0.61 %/h, empty in 3d18h32m00s");
    expect(text).toContain("21.53 °C  45.6 %RH  -67 dBm");
    expect(isoFromUnixMs(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(isoFromUnixMs(951782400000)).toBe(new Date(951782400000).toISOString());
    for (let t = 0; t < 4e12; t += 12_345_678_901) expect(isoFromUnixMs(t)).toBe(new Date(t).toISOString());
  });
});

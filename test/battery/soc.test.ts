import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  BatteryInputError,
  DEFAULT_LIPO_CURVE,
  adcToMillivolts,
  millivoltsAtSocBp,
  socBpFromMillivolts,
  socFromMillivolts,
  validateCurve,
} from "../../device/core/battery/soc";
import { testSeed } from "../helpers/seed";

const SEED = testSeed(Date.now() % 1_000_000);
const fcOpts = { seed: SEED, numRuns: 500 };
const replay = `SEED=${SEED} npx vitest run test/battery/soc.test.ts`;

describe(`adcToMillivolts (replay: ${replay})`, () => {
  it("scales counts by fullScale / 2^bits, rounding to nearest", () => {
    expect(adcToMillivolts(0, 12, 6600)).toBe(0);
    expect(adcToMillivolts(2048, 12, 6600)).toBe(3300);
    expect(adcToMillivolts(4095, 12, 6600)).toBe(6598); // 4095·6600/4096 = 6598.39
    expect(adcToMillivolts(2545, 12, 6600)).toBe(4101); // 4100.83 → 4101
  });
  it("rejects readings and parameters outside the ADC's range with a clear error", () => {
    expect(() => adcToMillivolts(4096, 12, 6600)).toThrow(/outside 0..4095/);
    expect(() => adcToMillivolts(-1, 12, 6600)).toThrow(BatteryInputError);
    expect(() => adcToMillivolts(1.5, 12, 6600)).toThrow(BatteryInputError);
    expect(() => adcToMillivolts(NaN, 12, 6600)).toThrow(BatteryInputError);
    expect(() => adcToMillivolts(1, 0, 6600)).toThrow(/resolution/);
    expect(() => adcToMillivolts(1, 12, 0)).toThrow(/full scale/);
  });
  it("is monotonic and within half an LSB of the exact value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 16 }), fc.integer({ min: 1000, max: 10000 }), fc.nat(), (bits, fs, r) => {
        const raw = r % 2 ** bits;
        const mv = adcToMillivolts(raw, bits, fs);
        expect(Math.abs(mv - (raw * fs) / 2 ** bits)).toBeLessThanOrEqual(0.5);
        if (raw > 0) expect(adcToMillivolts(raw - 1, bits, fs)).toBeLessThanOrEqual(mv);
      }),
      fcOpts,
    );
  }, 30_000);
});

describe(`socFromMillivolts (replay: ${replay})`, () => {
  it("interpolates linearly between curve points and clamps outside", () => {
    expect(socFromMillivolts(5000)).toBe(100);
    expect(socFromMillivolts(4170)).toBe(100);
    expect(socFromMillivolts(3820)).toBe(50);
    expect(socFromMillivolts(3805)).toBe(45); // halfway 3790 (40) .. 3820 (50)
    expect(socBpFromMillivolts(3805)).toBe(4500);
    expect(socFromMillivolts(3400)).toBe(0);
    expect(socFromMillivolts(2000)).toBe(0);
    const custom = [[4000, 100], [3000, 0]] as const;
    expect(socFromMillivolts(3500, custom)).toBe(50);
    expect(socBpFromMillivolts(3001, custom)).toBe(10);
  });
  it("is monotonic in voltage and bounded 0..100, and millivoltsAtSocBp inverts it", () => {
    validateCurve(DEFAULT_LIPO_CURVE);
    fc.assert(
      fc.property(fc.integer({ min: 2500, max: 4500 }), (mv) => {
        const p = socFromMillivolts(mv);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(100);
        expect(socBpFromMillivolts(mv + 1)).toBeGreaterThanOrEqual(socBpFromMillivolts(mv));
      }),
      fcOpts,
    );
    for (let bp = 0; bp <= 10000; bp += 37) {
      expect(Math.abs(socBpFromMillivolts(millivoltsAtSocBp(bp)) - bp)).toBeLessThanOrEqual(200);
    }
  });
  it("rejects malformed curves", () => {
    expect(() => validateCurve([[4000, 100]])).toThrow(/at least 2/);
    expect(() => validateCurve([[3000, 0], [4000, 100]])).toThrow(/lower mV/);
    expect(() => validateCurve([[4000, 100], [3000, 101]] as never)).toThrow(BatteryInputError);
    expect(() => socFromMillivolts(3.5)).toThrow(BatteryInputError);
  });
});

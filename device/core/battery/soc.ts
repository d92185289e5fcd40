/**
 * Battery ADC counts → millivolts → state of charge, in integer arithmetic only
 * (the results reach traces that must be identical on XS and Node).
 */
import { setErrorName } from "../util/error-name";

/** One point of a discharge curve: cell millivolts at a state of charge in whole %. */
export type CurvePoint = readonly [mv: number, pct: number];
/** Points sorted by falling voltage, from 100 % down to 0 %. */
export type DischargeCurve = readonly CurvePoint[];

/**
 * A 1S LiPo cell at the load it is read under: the agent reads the ADC at a sampling tick with
 * the CPU running and the radio idle (never inside a report's TX burst: the reporter takes the
 * reading first), about 80 mA, which a small cell's ~250 mΩ turns into ~20 mV below its rest
 * voltage. So this is a representative open-circuit curve minus 20 mV; the simulator's cell
 * model rests on the same open-circuit curve, so the two agree at the read's load. A product must characterise its own cell at its own read condition (`curve` in
 * the battery config). 0 % is the voltage where a 3.3 V LDO plus ESP32 brown-out (≈ 3.3 V)
 * leaves no useful margin.
 */
export const DEFAULT_LIPO_CURVE: DischargeCurve = [
  [4170, 100],
  [4080, 90],
  [4000, 80],
  [3930, 70],
  [3870, 60],
  [3820, 50],
  [3790, 40],
  [3760, 30],
  [3730, 20],
  [3690, 10],
  [3630, 5],
  [3400, 0],
];

/** 10 000 basis points = 100 %: the resolution the drop-rate estimate needs. */
export const SOC_BP_FULL = 10000;

export class BatteryInputError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "BatteryInputError");
  }
}

function isInt(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n);
}

/**
 * counts · fullScaleMv / 2^resolution, rounded to the nearest mV (the BatteryAdc port's
 * contract). Throws BatteryInputError on counts outside 0..2^bits-1 or bad parameters.
 */
export function adcToMillivolts(raw: number, resolutionBits: number, fullScaleMv: number): number {
  if (!isInt(resolutionBits) || resolutionBits < 1 || resolutionBits > 24) {
    throw new BatteryInputError(`adc resolution ${resolutionBits} is not 1..24 bits`);
  }
  if (!isInt(fullScaleMv) || fullScaleMv <= 0 || fullScaleMv > 100_000) {
    throw new BatteryInputError(`adc full scale ${fullScaleMv} mV is not 1..100000`);
  }
  const span = 2 ** resolutionBits; // exact: a power of two
  if (!isInt(raw) || raw < 0 || raw >= span) {
    throw new BatteryInputError(`adc reading ${raw} is outside 0..${span - 1}`);
  }
  // raw < 2^24 and fullScale ≤ 1e5: the product stays far below 2^53.
  return Math.floor((raw * fullScaleMv + span / 2) / span);
}

/** Checks a curve: ≥ 2 points, strictly falling voltage, falling %, 100 → 0 not required. */
export function validateCurve(curve: DischargeCurve): void {
  if (!Array.isArray(curve) || curve.length < 2) throw new BatteryInputError("curve needs at least 2 points");
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i];
    if (!Array.isArray(p) || p.length !== 2 || !isInt(p[0]) || !isInt(p[1]) || p[1] < 0 || p[1] > 100 || p[0] <= 0) {
      throw new BatteryInputError(`curve point ${i} must be [mV > 0, 0..100 %] integers`);
    }
    if (i > 0 && (p[0] >= curve[i - 1][0] || p[1] > curve[i - 1][1])) {
      throw new BatteryInputError(`curve point ${i} must have lower mV and no higher % than point ${i - 1}`);
    }
  }
}

/**
 * State of charge in basis points (0..10000) by linear interpolation, rounded down so an
 * estimate never claims more charge than the curve gives. Clamps outside the curve.
 */
export function socBpFromMillivolts(mv: number, curve: DischargeCurve = DEFAULT_LIPO_CURVE): number {
  if (!isInt(mv)) throw new BatteryInputError(`battery voltage ${mv} mV is not an integer`);
  if (mv >= curve[0][0]) return curve[0][1] * 100;
  const last = curve[curve.length - 1];
  if (mv <= last[0]) return last[1] * 100;
  for (let i = 1; i < curve.length; i++) {
    const [v1, p1] = curve[i];
    if (mv >= v1) {
      const [v0, p0] = curve[i - 1];
      // p1 + (mv − v1)·(p0 − p1)/(v0 − v1), in basis points; all terms are small integers.
      return p1 * 100 + Math.floor(((mv - v1) * (p0 - p1) * 100) / (v0 - v1));
    }
  }
  return last[1] * 100;
}

/** State of charge in whole percent (0..100), rounded down. */
export function socFromMillivolts(mv: number, curve: DischargeCurve = DEFAULT_LIPO_CURVE): number {
  return Math.floor(socBpFromMillivolts(mv, curve) / 100);
}

/** The inverse: the voltage at a given state of charge in basis points (for thresholds). */
export function millivoltsAtSocBp(bp: number, curve: DischargeCurve = DEFAULT_LIPO_CURVE): number {
  if (bp >= curve[0][1] * 100) return curve[0][0];
  const last = curve[curve.length - 1];
  if (bp <= last[1] * 100) return last[0];
  for (let i = 1; i < curve.length; i++) {
    const [v1, p1] = curve[i];
    if (bp >= p1 * 100) {
      const [v0, p0] = curve[i - 1];
      if (p0 === p1) return v1;
      return v1 + Math.floor(((bp - p1 * 100) * (v0 - v1)) / ((p0 - p1) * 100));
    }
  }
  return last[0];
}

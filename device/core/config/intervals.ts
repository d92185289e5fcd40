/**
 * Bounds of every interval the agent arms a timer with. A timer longer than 2³¹−1 ms
 * overflows (Node fires it after 1 ms, so a "daily" report became a message every
 * millisecond); one shorter than a few ms starves the device. Every interval that comes
 * from outside (CLI, config file, backend config over MQTT) is checked here before use,
 * and refused with a message naming it and its range.
 */
import { setErrorName } from "../util/error-name";

/** The largest delay a timer takes (a signed 32-bit millisecond count). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const DAY_MS = 86_400_000;

export interface IntervalBound {
  min: number;
  max: number;
  unit: "ms" | "s";
}

/** Every configurable interval, with its unit as configured. All maxima stay below MAX_TIMER_MS. */
export const INTERVAL_BOUNDS = {
  sampleIntervalMs: { min: 100, max: DAY_MS, unit: "ms" },
  reportIntervalMs: { min: 100, max: DAY_MS, unit: "ms" },
  /**
   * The battery is read at least this often whatever the sampling interval (a wake of its own
   * between ticks). At most a day: a longer value is the same as none at any sampling interval.
   */
  maxBatteryReadIntervalMs: { min: 1000, max: DAY_MS, unit: "ms" },
  /** The range dead-link detection is proven over (test/mqtt/keepalive.test.ts). */
  keepAliveSec: { min: 2, max: 20 * 60, unit: "s" },
  connackTimeoutMs: { min: 100, max: 10 * 60_000, unit: "ms" },
  /** 0 turns the PUBACK timeout off. */
  ackTimeoutMs: { min: 0, max: 60 * 60_000, unit: "ms" },
  baseMs: { min: 1, max: DAY_MS, unit: "ms" },
  capMs: { min: 1, max: DAY_MS, unit: "ms" },
  stableMs: { min: 0, max: DAY_MS, unit: "ms" },
  powerOnMaxMs: { min: 0, max: DAY_MS, unit: "ms" },
  /** The refusal backoff waits up to twice this. */
  refusedMinMs: { min: 0, max: DAY_MS / 2, unit: "ms" },
} as const satisfies Record<string, IntervalBound>;

export type IntervalName = keyof typeof INTERVAL_BOUNDS;

export class IntervalError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "IntervalError");
  }
}

/** The problem with `value` as interval `name`, or undefined when it is in range. */
export function intervalProblem(name: IntervalName, value: unknown): string | undefined {
  const b = INTERVAL_BOUNDS[name];
  if (typeof value === "number" && Number.isInteger(value) && value >= b.min && value <= b.max) return undefined;
  return `${name} must be an integer ${b.min}..${b.max} ${b.unit}, got ${String(value)}`;
}

/** Throws IntervalError unless every given interval is in range (undefined ones are skipped). */
export function checkIntervals(values: Partial<Record<IntervalName, unknown>>): void {
  for (const name of Object.keys(values) as IntervalName[]) {
    if (values[name] === undefined) continue;
    const p = intervalProblem(name, values[name]);
    if (p !== undefined) throw new IntervalError(p);
  }
}

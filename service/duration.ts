/**
 * Durations in requests and rules ("90s", "10m", "36h", "7d", "1h30m", or integer ms), the same
 * syntax as scenario files (host-sim/fleet/scenario.ts uses this parser).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Milliseconds, or undefined when `v` is not a duration. */
export function parseServiceDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string" || !DURATION.test(v)) return undefined;
  let ms = 0;
  for (const m of v.matchAll(PART)) ms += Number(m[1]) * UNITS[m[2]];
  return Number.isSafeInteger(Math.round(ms)) ? Math.round(ms) : undefined;
}

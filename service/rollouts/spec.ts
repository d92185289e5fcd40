/**
 * A rollout's plan (RolloutSpec) and the parsers for its human forms ("100/min", "5%", "30m"),
 * shared by the HTTP API and the CLI. Defaults follow AWS IoT Jobs and hawkBit where they have one.
 */
import { parseServiceDuration } from "../duration";

export interface ExponentialRate {
  /** Offers per minute at the start. */
  baseRatePerMinute: number;
  /** Multiplies the rate each time the criterion is met again (AWS: 1.1..5). */
  incrementFactor: number;
  /** Raise the rate after every this many devices notified (offered) ... */
  notifiedThreshold?: number;
  /** ... or after every this many devices succeeded. */
  succeededThreshold?: number;
}

export interface HealthSpec {
  /** How much worse (relative, %) the new version may be before the rollout halts. */
  marginPct: number;
  /** Devices needed in each cohort before a comparison counts. */
  minDevices: number;
  /** One-sided significance level of each test. */
  alpha: number;
}

export interface RolloutSpec {
  /** Bundle directory on the service's host (image.bin, manifest.cbor). */
  bundle: string;
  /** From the signed manifest. */
  version: number;
  hardwareId: string;
  target: string;
  /** Devices in the canary (wave 0). */
  canary: number;
  /** Cumulative wave sizes, % of the targeted devices, ascending, the last 100. */
  waves: number[];
  ratePerMinute: number;
  exponential?: ExponentialRate;
  /** Halt when failures exceed this % of executed devices ... */
  maxFailurePct: number;
  /** ... once at least this many executed. */
  minExecuted: number;
  /** An offer with no final status this long after its last progress times out. */
  timeoutMs: number;
  /** A wave soaks this long after it reached its success threshold before the next starts. */
  soakMs: number;
  /** % of a wave's offered devices that must succeed before it soaks. */
  successThresholdPct: number;
  /** Central precondition: battery % at least this, or charging. */
  minBatteryPct: number;
  /** Re-offers after a stalled download (4) or a flash error (8). */
  maxRetries: number;
  /** Trials cut by power or network loss (109) accepted per device before it counts as failed. */
  maxInterrupted: number;
  /** Offered to the updated devices when the rollout halts (a cloud-initiated rollback). */
  rollbackBundle?: string;
  rollbackVersion?: number;
  health: HealthSpec;
}

export const DEFAULTS = {
  canary: 20,
  waves: [5, 25, 100],
  ratePerMinute: 100,
  maxFailurePct: 5,
  minExecuted: 20,
  timeoutMs: 30 * 60_000,
  soakMs: 2 * 3_600_000,
  successThresholdPct: 80,
  minBatteryPct: 30,
  maxRetries: 2,
  maxInterrupted: 3,
  health: { marginPct: 20, minDevices: 10, alpha: 0.001 },
} as const;

export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

/** "100/min", "5/s", "600/h" → offers per minute. */
export function parseRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*\/\s*(s|sec|min|m|h|hour)$/.exec(s.trim());
  if (!m) throw new SpecError(`rate "${s}": expected N/min, N/s or N/h`);
  const n = Number(m[1]);
  const perMin = m[2].startsWith("s") ? n * 60 : m[2].startsWith("h") ? n / 60 : n;
  if (!(perMin > 0) || perMin > 1_000_000) throw new SpecError(`rate "${s}": must be above 0 and at most 1000000/min`);
  return perMin;
}

/** "5%" → 5 (a bare number is accepted too). */
export function parsePercent(s: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*%?$/.exec(s.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 0 && n <= 100)) throw new SpecError(`${name} "${s}": expected a percentage 0..100, e.g. 5%`);
  return n;
}

/** "90s", "30m", "2h", "7d", "1h30m", "1500ms" → ms (service/duration.ts, one syntax for the service). */
export function parseDurationMs(s: string, name: string): number {
  const ms = parseServiceDuration(s.trim());
  if (ms === undefined) throw new SpecError(`${name} "${s}": expected a duration like 90s, 30m, 2h, 7d`);
  return ms;
}

export function parseWaves(s: string): number[] {
  const waves = s.split(",").map((w) => parsePercent(w, "waves"));
  checkWaves(waves);
  return waves;
}

export function checkWaves(waves: number[]): void {
  if (waves.length === 0 || waves.length > 20) throw new SpecError("waves: 1 to 20 percentages, e.g. 5%,25%,100%");
  for (let i = 0; i < waves.length; i++) {
    if (!(waves[i] > 0 && waves[i] <= 100)) throw new SpecError(`waves: ${waves[i]}% is not in (0, 100]`);
    if (i > 0 && waves[i] <= waves[i - 1]) throw new SpecError("waves: each wave's cumulative % must be larger than the previous one");
  }
  if (waves[waves.length - 1] !== 100) throw new SpecError("waves: the last wave must be 100%");
}

/** The rate in force now (AWS IoT Jobs exponential rollout), capped at ratePerMinute. */
export function currentRate(spec: RolloutSpec, notified: number, succeeded: number): number {
  const e = spec.exponential;
  if (!e) return spec.ratePerMinute;
  const steps = e.notifiedThreshold ? Math.floor(notified / e.notifiedThreshold) : e.succeededThreshold ? Math.floor(succeeded / e.succeededThreshold) : 0;
  let rate = e.baseRatePerMinute;
  for (let i = 0; i < steps && rate < spec.ratePerMinute; i++) rate *= e.incrementFactor;
  return Math.min(spec.ratePerMinute, rate);
}

/**
 * Reconnect delays: full jitter, U(0, min(cap, base·2^n)) (AWS Architecture Blog,
 * "Exponential Backoff and Jitter"), a random power-on delay, and a long delay after the
 * broker refuses our credentials. Integer arithmetic only (no Math.pow/exp), so a seed gives
 * the same delays on XS and Node.
 */
import type { Random } from "../../ports";

export interface BackoffPolicy {
  /** Ceiling of the first retry, ms. */
  baseMs: number;
  /** Largest ceiling, ms. */
  capMs: number;
  /** A connection must stay up this long before the attempt counter resets. */
  stableMs: number;
  /** Power-on delay is U(0, powerOnMaxMs): spreads a site-wide power return. */
  powerOnMaxMs: number;
  /** After CONNACK 4/5 (bad credentials / not authorised): U(refusedMinMs, 2·refusedMinMs). */
  refusedMinMs: number;
  /** "full" = full jitter (default); "none" = plain exponential, for the storm comparison only. */
  jitter: "full" | "none";
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 1_000,
  capMs: 300_000,
  stableMs: 60_000,
  powerOnMaxMs: 30_000,
  refusedMinMs: 15 * 60_000,
  jitter: "full",
};

/** min(cap, base·2^attempt), by doubling (exact, no overflow past cap). */
export function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  let c = baseMs;
  for (let i = 0; i < attempt && c < capMs; i++) c *= 2;
  return c < capMs ? c : capMs;
}

/**
 * A uniform integer in [0, max] from one 32-bit draw: floor(u32·(max+1) / 2^32).
 * Exact in doubles while max < 2^21 (2^53 / 2^32); larger ranges combine two draws.
 */
export function uniformInclusive(random: Random, max: number): number {
  if (max <= 0) return 0;
  const n = max + 1;
  if (n <= 0x200000) return Math.floor((random.nextU32() * n) / 0x100000000);
  // Two draws give 53 bits; still exact integer math.
  const hi = random.nextU32() >>> 11; // 21 bits
  const lo = random.nextU32(); // 32 bits
  const r = hi * 0x100000000 + lo; // < 2^53
  return r % n; // bias < n / 2^53: negligible
}

/** Delay before retry number `attempt` (0 = the first retry after a failure). */
export function retryDelay(policy: BackoffPolicy, attempt: number, random: Random): number {
  const ceiling = backoffCeiling(attempt, policy.baseMs, policy.capMs);
  return policy.jitter === "full" ? uniformInclusive(random, ceiling) : ceiling;
}

export function powerOnDelay(policy: BackoffPolicy, random: Random): number {
  return uniformInclusive(random, policy.powerOnMaxMs);
}

export function refusedDelay(policy: BackoffPolicy, random: Random): number {
  return policy.refusedMinMs + uniformInclusive(random, policy.refusedMinMs);
}

/** CONNACK codes that no retry will fix soon: bad user name or password, not authorised. */
export const isAuthRefusal = (code: number): boolean => code === 4 || code === 5;

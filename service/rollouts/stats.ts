/**
 * The two one-sided tests behind "the new version is worse than the old one by more than a
 * margin" (docs/fleet-service.md explains the choice):
 * - event rates (crash resets, reconnects, telemetry gaps per device-day): the conditional
 *   binomial test for two Poisson rates, H0: rate_new ≤ (1 + margin) · rate_old;
 * - battery drain (one mean %/h per device): Welch's t, H0: mean_new ≤ (1 + margin) · mean_old.
 * Each returns the p-value; the caller halts only below a small alpha with enough devices.
 */

/** ln Γ(x), Lanczos (g = 7, n = 9), good to ~1e-13 for x > 0. */
export function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Standard normal upper tail P(Z ≥ z) (Abramowitz–Stegun 7.1.26 via erfc, |error| < 1.5e-7). */
export function normalUpper(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** P(X ≥ k) for X ~ Binomial(n, p): exact for n ≤ 5000, normal with continuity correction above. */
export function binomialUpper(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  if (n > 5000) {
    const sd = Math.sqrt(n * p * (1 - p));
    return normalUpper((k - 0.5 - n * p) / sd);
  }
  const lnC = lnGamma(n + 1);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    const term = Math.exp(lnC - lnGamma(i + 1) - lnGamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log(1 - p));
    sum += term;
    if (term < sum * 1e-15 && i > n * p) break;
  }
  return Math.min(1, sum);
}

/**
 * Two Poisson counts x1 over exposure e1 (new) and x0 over e0 (old). Given n = x1 + x0, under H0
 * (rate1 = (1+m)·rate0) x1 ~ Binomial(n, (1+m)e1 / ((1+m)e1 + e0)); the p-value is P(X ≥ x1).
 */
export function poissonRateWorse(x1: number, e1: number, x0: number, e0: number, margin: number): number {
  return stratifiedPoissonWorse([{ x1, e1, x0, e0 }], margin);
}

/** One stratum's counts and exposures: new version (x1 over e1) and old version (x0 over e0). */
export interface RateStratum {
  x1: number;
  e1: number;
  x0: number;
  e0: number;
}

/** Above this many events in all, the stratified statistic uses the normal approximation. */
const EXACT_STRATIFIED_MAX = 2000;

/**
 * The conditional test stratified: within each stratum (both cohorts present) x1_s given n_s is
 * Binomial(n_s, p_s) under H0 (the same margin in every stratum), so T = Σ x1_s is a sum of
 * independent binomials. The p-value P(T ≥ Σ x1_s) is exact (by convolution) up to
 * EXACT_STRATIFIED_MAX events, normal with continuity correction above. Strata with no exposure
 * on either side carry no information about the difference and are left out.
 */
export function stratifiedPoissonWorse(strata: readonly RateStratum[], margin: number): number {
  const used = strata.filter((s) => s.e1 > 0 && s.e0 > 0 && s.x1 + s.x0 > 0);
  if (used.length === 0) return 1;
  const prob = (s: RateStratum) => ((1 + margin) * s.e1) / ((1 + margin) * s.e1 + s.e0);
  if (used.length === 1) return binomialUpper(used[0].x1, used[0].x1 + used[0].x0, prob(used[0]));
  const observed = used.reduce((a, s) => a + s.x1, 0);
  const total = used.reduce((a, s) => a + s.x1 + s.x0, 0);
  if (observed === 0) return 1;
  if (total > EXACT_STRATIFIED_MAX) {
    let mean = 0, variance = 0;
    for (const s of used) {
      const n = s.x1 + s.x0, p = prob(s);
      mean += n * p;
      variance += n * p * (1 - p);
    }
    return variance === 0 ? (observed > mean ? 0 : 1) : normalUpper((observed - 0.5 - mean) / Math.sqrt(variance));
  }
  let dist = [1];
  for (const s of used) {
    const n = s.x1 + s.x0, p = prob(s);
    const pmf = binomialPmf(n, p);
    const next = new Array<number>(dist.length + n).fill(0);
    for (let i = 0; i < dist.length; i++) {
      if (dist[i] === 0) continue;
      for (let j = 0; j <= n; j++) next[i + j] += dist[i] * pmf[j];
    }
    dist = next;
  }
  let tail = 0;
  for (let k = observed; k < dist.length; k++) tail += dist[k];
  return Math.min(1, tail);
}

function binomialPmf(n: number, p: number): number[] {
  if (p <= 0) return Array.from({ length: n + 1 }, (_, k) => (k === 0 ? 1 : 0));
  if (p >= 1) return Array.from({ length: n + 1 }, (_, k) => (k === n ? 1 : 0));
  const lnC = lnGamma(n + 1), lp = Math.log(p), lq = Math.log(1 - p);
  return Array.from({ length: n + 1 }, (_, k) => Math.exp(lnC - lnGamma(k + 1) - lnGamma(n - k + 1) + k * lp + (n - k) * lq));
}

function meanVar(v: number[]): { mean: number; variance: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) * (b - mean), 0) / Math.max(1, v.length - 1);
  return { mean, variance };
}

/**
 * Welch's one-sided test that mean(a) > (1+m)·mean(b). The t quantile is approximated from the
 * normal one with the Cornish–Fisher expansion in 1/df, which errs on the conservative side at
 * small df less than plain z would.
 */
export function meanWorse(a: number[], b: number[], margin: number): { p: number; t: number; df: number; meanNew: number; meanOld: number } {
  return stratifiedMeanWorse([{ a, b }], margin);
}

/**
 * Welch's test stratified: the difference mean_new − (1+m)·mean_old is taken within each stratum
 * that has at least 2 devices in each cohort, and averaged with the new cohort's weights (the old
 * cohort is standardized to the new one's mix); its variance is the weighted sum of the strata's,
 * with Satterthwaite's degrees of freedom. With one stratum it is plain Welch.
 */
export function stratifiedMeanWorse(strata: readonly { a: number[]; b: number[] }[], margin: number): { p: number; t: number; df: number; meanNew: number; meanOld: number } {
  const used = strata.filter((s) => s.a.length >= 2 && s.b.length >= 2);
  const k = 1 + margin;
  if (used.length === 0) return { p: 1, t: 0, df: 0, meanNew: NaN, meanOld: NaN };
  const nNew = used.reduce((x, s) => x + s.a.length, 0);
  let diff = 0, variance = 0, dfDen = 0, meanNew = 0, meanOld = 0;
  for (const s of used) {
    const A = meanVar(s.a), B = meanVar(s.b);
    const w = s.a.length / nNew;
    const va = (w * w * A.variance) / s.a.length;
    const vb = (w * w * k * k * B.variance) / s.b.length;
    diff += w * (A.mean - k * B.mean);
    meanNew += w * A.mean;
    meanOld += w * B.mean;
    variance += va + vb;
    dfDen += (va * va) / (s.a.length - 1) + (vb * vb) / (s.b.length - 1);
  }
  const se = Math.sqrt(variance);
  if (se === 0) return { p: diff > 0 ? 0 : 1, t: diff > 0 ? Infinity : -Infinity, df: Infinity, meanNew, meanOld };
  const t = diff / se;
  const df = dfDen > 0 ? (variance * variance) / dfDen : Infinity;
  // Map t with df degrees of freedom to an equivalent z (inverse Cornish–Fisher, first two terms).
  const z = (t * (1 - 1 / (4 * df))) / Math.sqrt(1 + (t * t) / (2 * df));
  return { p: normalUpper(z), t, df, meanNew, meanOld };
}

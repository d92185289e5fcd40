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
  if (e1 <= 0 || e0 <= 0) return 1;
  const w = (1 + margin) * e1;
  return binomialUpper(x1, x1 + x0, w / (w + e0));
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
  const A = meanVar(a);
  const B = meanVar(b);
  const k = 1 + margin;
  const va = A.variance / a.length;
  const vb = (k * k * B.variance) / b.length;
  const se = Math.sqrt(va + vb);
  const diff = A.mean - k * B.mean;
  if (se === 0) return { p: diff > 0 ? 0 : 1, t: diff > 0 ? Infinity : -Infinity, df: Infinity, meanNew: A.mean, meanOld: B.mean };
  const t = diff / se;
  const df = (va + vb) ** 2 / ((va * va) / Math.max(1, a.length - 1) + (vb * vb) / Math.max(1, b.length - 1));
  // Map t with df degrees of freedom to an equivalent z (inverse Cornish–Fisher, first two terms).
  const z = t * (1 - 1 / (4 * df)) / Math.sqrt(1 + (t * t) / (2 * df));
  return { p: normalUpper(z), t, df, meanNew: A.mean, meanOld: B.mean };
}

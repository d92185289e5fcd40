/**
 * Measuring helpers for bench/*.bench.ts. Benches run under `node --expose-gc` (bench/run.mjs).
 */
import { runScenarioInXs, type XsRunOptions } from "../../test/xs/harness";

export interface OpsResult {
  /** Operations per second over the measured window. */
  opsPerSec: number;
  /** Mean nanoseconds per operation. */
  nsPerOp: number;
  /** Operations measured (after warm-up). */
  iterations: number;
  /** Milliseconds measured. */
  ms: number;
}

/**
 * Calls `fn` repeatedly (awaiting it if it returns a promise) for at least `minMs`
 * after a warm-up of `warmupMs`, and reports the throughput.
 */
export async function opsPerSecond(
  fn: () => unknown,
  options: { minMs?: number; warmupMs?: number } = {},
): Promise<OpsResult> {
  const minMs = options.minMs ?? 1000;
  const warmupMs = options.warmupMs ?? Math.min(200, minMs / 4);
  const isAsync = fn() instanceof Promise;
  const runBatch = async (n: number) => {
    if (isAsync) for (let i = 0; i < n; i++) await fn();
    else for (let i = 0; i < n; i++) fn();
  };
  // Warm up, and find a batch size that takes about 10 ms so the clock is read rarely.
  let batch = 1;
  let start = performance.now();
  while (performance.now() - start < warmupMs) {
    const t = performance.now();
    await runBatch(batch);
    if (performance.now() - t < 10) batch *= 2;
  }
  let iterations = 0;
  start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    await runBatch(batch);
    iterations += batch;
    elapsed = performance.now() - start;
  }
  return { opsPerSec: (iterations * 1000) / elapsed, nsPerOp: (elapsed * 1e6) / iterations, iterations, ms: elapsed };
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") {
    throw new Error("heapPerItem needs a forced GC: run benches through `npm run bench` (node --expose-gc)");
  }
  gc();
  gc();
}

/**
 * Retained heap bytes per item: builds `n` items with `make(i)`, keeps them alive, and
 * compares heapUsed (plus array buffers) after forced GCs.
 */
export function heapPerItem(make: (i: number) => unknown, n: number): number {
  const held: unknown[] = new Array(n);
  collect();
  const before = process.memoryUsage();
  for (let i = 0; i < n; i++) held[i] = make(i);
  collect();
  const after = process.memoryUsage();
  const bytes = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  if (held.length !== n) throw new Error("unreachable");
  return bytes / n;
}

export interface XsCost {
  /** Computrons from the start of run(host) until it settled. */
  computrons: number;
  /** The trace lines the scenario emitted. */
  lines: string[];
  /** Lines of the form `<name> <number>`, as a record (e.g. `encode 1234` → { encode: 1234 }). */
  metrics: Record<string, number>;
}

/**
 * Runs a scenario (see test/xs/scenario-host.ts) inside XS and returns its computron cost.
 * Scenarios report finer costs by emitting `<name> ${host.meter()}` lines.
 */
export async function xsComputrons(scenarioTs: string | URL, options: XsRunOptions = {}): Promise<XsCost> {
  const r = await runScenarioInXs(scenarioTs, options);
  const metrics: Record<string, number> = {};
  for (const line of r.lines) {
    const m = /^([\w.:/-]+) (-?\d+(?:\.\d+)?)$/.exec(line);
    if (m?.[1] !== undefined) metrics[m[1]] = Number(m[2]);
  }
  return { computrons: r.computrons ?? 0, lines: r.lines, metrics };
}

/** min / median / max of measured rounds (the bench format for repeated measurements). */
export function spread(values: number[], digits = 0): { min: number; median: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const r = (v: number) => Number(v.toFixed(digits));
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}

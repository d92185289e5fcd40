import { describe, expect, it } from "vitest";
import { SeededRandom } from "../../host-sim/virtual/random";

describe("SeededRandom", () => {
  it("gives the same stream for the same seed and different streams for nearby seeds", () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    const sb = Array.from({ length: 8 }, () => b.nextU32());
    const sc = Array.from({ length: 8 }, () => c.nextU32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    for (const v of sa) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it("below(n) stays in range and is roughly uniform", () => {
    const r = new SeededRandom(7);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.below(10)]++;
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(600);
  });

  it("fork(label) is deterministic and independent per label", () => {
    const x1 = new SeededRandom(1).fork("net").nextU32();
    const x2 = new SeededRandom(1).fork("net").nextU32();
    const y = new SeededRandom(1).fork("flash").nextU32();
    expect(x1).toBe(x2);
    expect(x1).not.toBe(y);
  });

  it("fill() writes every byte, including a ragged tail", () => {
    const bytes = new Uint8Array(7);
    new SeededRandom(3).fill(bytes);
    const again = new Uint8Array(7);
    new SeededRandom(3).fill(again);
    expect(bytes).toEqual(again);
    expect(bytes.some((b) => b !== 0)).toBe(true);
  });
});

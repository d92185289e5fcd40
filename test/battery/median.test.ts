/** The battery monitor's allocation-free median equals "sort a copy, take index (n−1)>>1" (fixed seeds). */
import { describe, expect, it } from "vitest";
import { median } from "../../device/core/battery/monitor";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";

const SEEDS = process.env.SEED ? [testSeed()] : [1, 2, 3, 20261126];
const bySorting = (xs: number[]) => xs.slice().sort((a, b) => a - b)[(xs.length - 1) >> 1];

describe("battery median", () => {
  it("matches sorting on windows of 1..9 readings with repeats and extremes", () => {
    for (const seed of SEEDS) {
      withSeed(seed, "test/battery/median.test.ts", () => {
        const r = new SeededRandom(seed);
        for (let run = 0; run < 5_000; run++) {
          const n = 1 + (r.nextU32() % 9);
          // Narrow ranges force ties; wide ones reach the ADC's extremes.
          const span = [3, 50, 5_000][r.nextU32() % 3];
          const xs = Array.from({ length: n }, () => 2_500 + (r.nextU32() % span));
          const before = xs.slice();
          expect(median(xs), JSON.stringify(xs)).toBe(bySorting(xs));
          expect(xs).toEqual(before); // the window itself is not reordered
        }
      });
    }
  });

  it("takes the lower of the two middle readings in an even window", () => {
    expect(median([4000, 3000, 3500, 3100])).toBe(3100);
    expect(median([5, 5, 5, 5])).toBe(5);
    expect(median([3600])).toBe(3600);
  });
});

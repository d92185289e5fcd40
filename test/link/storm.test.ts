/**
 * 1,000 devices, broker down for 10 minutes. Full jitter must keep the reconnect peak under
 * a stated bound; plain exponential backoff (same devices, same outage) is measured for contrast.
 *
 * The bound: after ten minutes of failures every device's ceiling is at the 300 s cap, so full
 * jitter spreads the returns over ~300 s: ~3.3/s on average, and a Poisson peak over 300 one-second
 * buckets stays near 12. We assert ≤ 40/s (4 % of the fleet): loose enough for any seed, three
 * orders tighter than a synchronized fleet (1,000 in the same second).
 */
import { expect, test } from "vitest";
import { testSeed, withSeed } from "../helpers/seed";
import { runPowerOn, runStorm } from "./storm-sim";

export const FULL_JITTER_PEAK_BOUND = 40;

test("reconnect storm: full jitter keeps the peak under the bound; plain exponential does not", () => {
  const seed = testSeed();
  withSeed(seed, "test/link/storm.test.ts", () => {
    const full = runStorm({ devices: 1000, seed, jitter: "full" });
    const plain = runStorm({ devices: 1000, seed, jitter: "none" });
    console.log(`storm seed ${seed}\n full jitter: ${JSON.stringify(full)}\n plain exp:   ${JSON.stringify(plain)}`);
    expect(full.online).toBe(1000);
    expect(plain.online).toBe(1000);
    // Every device noticed the outage and came back (a device missing here would lower the peak).
    expect(full.returned).toBe(1000);
    expect(plain.returned).toBe(1000);
    expect(full.peakPerSecond).toBeLessThanOrEqual(FULL_JITTER_PEAK_BOUND);
    expect(full.peakConnectsPerSecond).toBeLessThanOrEqual(FULL_JITTER_PEAK_BOUND);
    // Plain exponential: the fleet failed at the same instant, so it retries in lockstep.
    expect(plain.peakPerSecond).toBeGreaterThan(900);
    // Full jitter still gets everyone back within one cap period (300 s) plus slack.
    expect(full.allMs).toBeLessThanOrEqual(310_000);
  });
});

test("site-wide power return: the random power-on delay spreads the first connects", () => {
  const seed = testSeed();
  withSeed(seed, "test/link/storm.test.ts", () => {
    const spread = runPowerOn({ devices: 1000, seed, powerOnMaxMs: 30_000 });
    const none = runPowerOn({ devices: 1000, seed, powerOnMaxMs: 0 });
    console.log(`power-on seed ${seed}: U(0,30 s) ${JSON.stringify(spread)}; no delay ${JSON.stringify(none)}`);
    // ~33/s on average over 30 s; the busiest second stays well under 100 (vs 1,000 at once).
    expect(spread.peakConnectsPerSecond).toBeLessThanOrEqual(100);
    expect(none.peakConnectsPerSecond).toBe(1000);
    expect(spread.allOnlineMs).toBeLessThanOrEqual(32_000);
    expect(none.allOnlineMs).toBeLessThanOrEqual(2_000);
  });
});

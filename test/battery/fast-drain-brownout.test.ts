// A fast drain (a 400 mAh cell at a constant 60 mA, ≈ 15 %/h) sampled every 10 min: the last
// ~1.5 % between the firmware's brown-out voltage and the chip's own reset lasts minutes, less than
// one sampling interval. The firmware must save its buffered samples before the chip resets.
import { describe, expect, it } from "vitest";
import { runBattery } from "../../host-sim/battery/battery-run";
import { DEFAULT_BATTERY_CONFIG as C, batteryStep, initialBatteryState } from "../../device/core/battery/monitor";
import { millivoltsAtSocBp, socBpFromMillivolts } from "../../device/core/battery/soc";

const SEEDS = [1, 2, 3, 4, 5];
const HOUR = 3_600_000;

function fastDrain(seed: number, sampleMs: number) {
  return runBattery({
    seed,
    telemetry: { sampleIntervalMs: sampleMs, reportIntervalMs: 600_000 },
    maxMs: 4 * HOUR,
    battery: { capacityMah: 400, capacityVariationPermille: 0, startPermille: 400, sleepUa: 60_000 },
    chipResetWhenDead: true,
  });
}

describe("brown-out save on a fast drain", () => {
  for (const sampleMs of [600_000, 60_000]) {
    it(`saves every buffered sample before the chip's brown-out reset (sampling every ${sampleMs / 60_000} min)`, () => {
      for (const seed of SEEDS) {
        const r = fastDrain(seed, sampleMs);
        const hint = `seed ${seed} (fixed list; replay: npx vitest run test/battery/fast-drain-brownout.test.ts)`;
        expect(r.chipResetAt, hint).toBeUndefined();
        expect(r.brownoutAt, hint).toBeDefined();
        expect(r.chargePermilleAtBrownout!, hint).toBeGreaterThan(0);
        expect(r.samplesLostAtReset, hint).toBe(0);
        // The buffered samples went to the persistent outbox.
        expect(r.samplesInSaved, hint).toBeGreaterThan(0);
      }
    });
  }
});

describe("the projected brown-out and TX dips", () => {
  // A drain at 15 %/h read every 10 min (250 bp per read), in the monitor's own curve terms.
  const READ_MS = 600_000;
  const DROP_BP = 250;
  function firstBrownout(dipEvery: number): { t: number; trueBp: number } | undefined {
    const s = initialBatteryState();
    for (let i = 0; i < 40; i++) {
      const trueBp = Math.max(0, 4000 - i * DROP_BP);
      const mv = millivoltsAtSocBp(trueBp) - (dipEvery > 0 && i % dipEvery === dipEvery - 1 ? 150 : 0);
      const ev = batteryStep(s, C, { t: i * READ_MS, mv, charger: "discharging" });
      if (ev.some((e) => e.type === "brownout")) return { t: i * READ_MS, trueBp };
    }
    return undefined;
  }
  const emptyBp = socBpFromMillivolts(C.brownoutMv);

  it("fires within the last reads before the brown-out voltage, not earlier", () => {
    const clean = firstBrownout(0)!;
    expect(clean).toBeDefined();
    expect(clean.trueBp).toBeLessThanOrEqual(emptyBp + 3 * DROP_BP);
    expect(clean.trueBp).toBeGreaterThan(emptyBp - DROP_BP);
  });

  for (const every of [3, 5]) {
    it(`one TX dip (−150 mV) every ${every} reads moves it by at most one read`, () => {
      const clean = firstBrownout(0)!;
      const dipped = firstBrownout(every)!;
      expect(dipped).toBeDefined();
      expect(dipped.t).toBeGreaterThanOrEqual(clean.t - READ_MS);
    });
  }
});

// The low alarm on a fast drain (a 400 mAh cell at a constant 60 mA, ≈ 15 %/h) sampled every
// 10 min. The average's weight is defined per minute elapsed (emaStepMs), not per reading: with
// 1/8 per reading the alarm came 71 min after the true 20 % crossing at 10-min sampling. And the
// battery is read every minute whatever the sampling interval (maxBatteryReadIntervalMs), so the
// median of 5 no longer lags two 10-min readings: 21 min late before that, about 5 min now.
import { describe, expect, it } from "vitest";
import { runBattery } from "../../host-sim/battery/battery-run";
import { BatteryMonitor, DEFAULT_BATTERY_CONFIG as C, batteryStep, emaSteps, initialBatteryState } from "../../device/core/battery/monitor";
import { TelemetryReporter } from "../../device/core/telemetry/reporter";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";
import { SeededRandom } from "../../host-sim/virtual/random";

const SEEDS = [1, 2, 3, 4, 5];
const HOUR = 3_600_000;
const FILE = "test/battery/fast-drain-low-alarm.test.ts";
/**
 * Allowed lateness. With a read every minute the alarm lags as at 1-min sampling: the median of 5
 * lags 2 readings (2 min) and the 1/8-per-minute average a few more. Measured: 5 min on every
 * seed (bench/results/battery-accuracy.json, fastDrainBrownout); 21 min with reads only at the
 * 10-min ticks, 71 min before emaStepMs. 10 min leaves room for ±1 LSB of noise and an unlucky
 * TX dip in the median, and still fails the 21 min of the old rule by a wide margin.
 */
const MAX_LATE_MIN = 10;

describe("low alarm on a fast drain at 10-min sampling", () => {
  it(`comes within ${MAX_LATE_MIN} min of the true 20 % crossing`, () => {
    for (const seed of SEEDS) {
      const battery = { capacityMah: 400, capacityVariationPermille: 0, startPermille: 400, sleepUa: 60_000 };
      const telemetry = { sampleIntervalMs: 600_000, reportIntervalMs: 600_000 };
      const r = runBattery({ seed, telemetry, maxMs: 4 * HOUR, battery, chipResetWhenDead: true });
      // The true drain rate from the first hour of the same cell (nothing stretched yet).
      const probe = runBattery({ seed, telemetry, maxMs: HOUR, battery });
      const permillePerMin = (400 - probe.chargePermilleAtEnd) / (probe.endMs / 60_000);
      const trueLowMin = (400 - 200) / permillePerMin;
      const low = r.alarms.find((a) => a.alarm === "low");
      const hint = `seed ${seed} (fixed list; replay: npx vitest run ${FILE})`;
      expect(low, hint).toBeDefined();
      const lateMin = low!.t / 60_000 - trueLowMin;
      expect(lateMin, hint).toBeGreaterThanOrEqual(0); // never before the truth
      expect(lateMin, hint).toBeLessThanOrEqual(MAX_LATE_MIN);
    }
  });
});

describe("no false alarm on a flat cell with ADC noise", () => {
  // 3760 mV is 30 % on the default curve; ±25 mV uniform noise and a −150 mV TX dip every 5th
  // reading, for 14 days. (Measured: at 10-min sampling the smoothing now keeps a flat cell
  // alarm-free down to 3758 mV, the old per-reading average down to 3753 mV; 20 seeds.)
  for (const sampleMs of [600_000, 60_000]) {
    it(`raises nothing at 30 % (sampling every ${sampleMs / 60_000} min)`, () => {
      for (const seed of SEEDS) {
        const rnd = new SeededRandom(seed);
        const s = initialBatteryState();
        const raised: string[] = [];
        const days = 14;
        for (let i = 0; i < (days * 24 * HOUR) / sampleMs; i++) {
          // The boot burst reads a quiet cell; the noise starts once the median window is full.
          const mv = i < C.medianWindow ? 3760 : 3760 + rnd.below(51) - 25 - (i % 5 === 0 ? 150 : 0);
          for (const e of batteryStep(s, C, { t: i * sampleMs, mv, charger: "discharging" })) {
            if (e.type === "alarm" || e.type === "brownout") raised.push(`${e.type} at reading ${i}`);
          }
        }
        expect(raised, `seed ${seed} (fixed list; replay: npx vitest run ${FILE})`).toEqual([]);
      }
    });
  }
});

describe("no false alarm on a flat noisy cell through the reporter at 10-min sampling (reads every minute)", () => {
  // The same flat cell at 3760 mV (30 %), ±25 mV of ADC noise and a −150 mV TX dip on every 5th
  // read, but read by the real reporter's timer: a read each minute between the 10-min ticks.
  it("raises nothing in 14 days", () => {
    for (const seed of SEEDS) {
      const clock = new VirtualClock();
      const rnd = new SeededRandom(seed);
      let reads = 0;
      const adc = {
        resolution: 12,
        fullScaleMv: 6600,
        read: () => {
          const i = reads++;
          const mv = i < C.medianWindow ? 3760 : 3760 + rnd.below(51) - 25 - (i % 5 === 0 ? 150 : 0);
          return Math.round((mv * 4096) / 6600);
        },
      };
      const monitor = new BatteryMonitor({ clock, battery: adc });
      const raised: string[] = [];
      monitor.onEvent((e) => {
        if (e.type === "alarm" || e.type === "brownout") raised.push(`${e.type} at ${clock.now() / 60_000} min`);
      });
      let seq = 0;
      const reporter = new TelemetryReporter(
        {
          clock,
          wallClock: new VirtualWallClock(clock),
          sensors: new SimSensors(clock, rnd.fork("sensors")),
          identity: { deviceId: "dev-1", firmware: "1.0.0", slot: 0, resetReason: "power-on" },
          nextSeq: () => seq++,
          publish: () => {},
          battery: monitor,
        },
        { sampleIntervalMs: 600_000, reportIntervalMs: 3_600_000 },
      );
      monitor.prime();
      reporter.start();
      clock.advance(14 * 24 * HOUR);
      reporter.stop();
      const hint = `seed ${seed} (fixed list; replay: npx vitest run ${FILE})`;
      expect(reads, hint).toBeGreaterThanOrEqual(14 * 24 * 60); // read every minute, not every 10
      expect(raised, hint).toEqual([]);
    }
  });
});

describe("emaSteps", () => {
  it("one step per emaStepMs elapsed, rounded, at least 1 and at most 32", () => {
    expect(emaSteps(0, C)).toBe(1);
    expect(emaSteps(59_900, C)).toBe(1); // a reading taken early, before a report's TX
    expect(emaSteps(60_100, C)).toBe(1);
    expect(emaSteps(180_000, C)).toBe(3);
    expect(emaSteps(600_000, C)).toBe(10);
    expect(emaSteps(24 * HOUR, C)).toBe(32);
  });
});

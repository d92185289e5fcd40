import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  BatteryMonitor,
  DEFAULT_BATTERY_CONFIG as C,
  batteryOtaPrecondition,
  batteryReport,
  batteryStep,
  initialBatteryState,
  otaVerdict,
  reportIntervalFor,
  type BatteryEvent,
  type ChargerState,
} from "../../device/core/battery/monitor";
import { millivoltsAtSocBp } from "../../device/core/battery/soc";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed } from "../helpers/seed";

const SEED = testSeed(Date.now() % 1_000_000);
const replay = `SEED=${SEED} npx vitest run test/battery/monitor.test.ts`;

/** Feeds readings through the pure step function; returns every event with its time. */
function feed(readings: { t: number; mv: number | undefined; charger?: ChargerState }[]) {
  const s = initialBatteryState();
  const events: (BatteryEvent & { t: number })[] = [];
  for (const r of readings) for (const e of batteryStep(s, C, { charger: undefined, ...r })) events.push({ ...e, t: r.t });
  return { s, events };
}
const alarms = (ev: BatteryEvent[]) => ev.filter((e) => e.type === "alarm").map((e) => (e as { alarm: string }).alarm);

describe(`battery smoothing and alarms (replay: ${replay})`, () => {
  it("one radio-TX dip far below the low threshold raises no alarm", () => {
    const seq = Array.from({ length: 20 }, (_, i) => ({ t: i * 60_000, mv: 3900 }));
    seq[10].mv = 3500; // a 400 mV dip: below critical and near brown-out
    const { events, s } = feed(seq);
    expect(alarms(events)).toEqual([]);
    expect(events.some((e) => e.type === "brownout")).toBe(false);
    expect(s.mv).toBe(3900);
  });

  it("property: TX dips (at most 2 in any 5 readings, any depth) never raise an alarm or a brown-out", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3765, max: 4170 }),
        fc.array(fc.record({ gap: fc.integer({ min: 3, max: 12 }), depth: fc.integer({ min: 50, max: 2000 }) }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 1000 }),
        (level, dips, noiseSeed) => {
          const rnd = new SeededRandom(noiseSeed);
          const readings: { t: number; mv: number }[] = [];
          for (const d of dips) {
            for (let k = 0; k < d.gap - 1; k++) readings.push({ t: readings.length * 60_000, mv: level + rnd.below(21) - 10 });
            readings.push({ t: readings.length * 60_000, mv: level - d.depth });
          }
          const { events } = feed(readings);
          expect(events.filter((e) => e.type !== "status")).toEqual([]);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("a noisy slow discharge fires low, critical and brown-out exactly once each, in order", () => {
    const rnd = new SeededRandom(SEED);
    const readings = [];
    // 4100 mV → 3400 mV over 7 days, ±25 mV noise, one TX dip (−150 mV) every 5th reading.
    const n = 7 * 24 * 60;
    for (let i = 0; i < n; i++) {
      const base = 4100 - Math.floor((700 * i) / n);
      const noise = rnd.below(51) - 25;
      readings.push({ t: i * 60_000, mv: base + noise - (i % 5 === 0 ? 150 : 0) });
    }
    const { events } = feed(readings);
    expect(alarms(events), replay).toEqual(["low", "critical"]);
    expect(events.filter((e) => e.type === "brownout").length, replay).toBe(1);
    const low = events.find((e) => e.type === "alarm")!;
    const brown = events.find((e) => e.type === "brownout")!;
    expect(low.t).toBeLessThan(brown.t);
    expect((brown as { mv: number }).mv).toBeLessThanOrEqual(C.brownoutMv);
  });

  it("hysteresis: hovering at the low threshold does not flap; recovering clears in order", () => {
    const atLow = millivoltsAtSocBp(C.lowEnterPct * 100);
    const readings = [];
    let t = 0;
    for (let i = 0; i < 200; i++) readings.push({ t: (t += 60_000), mv: atLow + (i % 2 === 0 ? 8 : -8) });
    // Charge back up past both exit thresholds.
    for (let mv = atLow; mv <= 4000; mv += 10) readings.push({ t: (t += 60_000), mv, charger: "charging" as const });
    const { events } = feed(readings);
    expect(alarms(events)).toEqual(["low", "none"]);
    const statuses = events.filter((e) => e.type === "status").map((e) => (e as { status: number }).status);
    expect(statuses).toEqual([0, 4, 1]); // normal (from unknown), low, then charging (LwM2M /3 codes)
  });

  it("measures the drop rate only while discharging, and estimates time to empty", () => {
    // A straight line in SoC: 60 % → 40 % over 10 h = 2 %/h = 200 bp/h.
    const readings = [];
    for (let m = 0; m <= 600; m += 5) readings.push({ t: m * 60_000, mv: millivoltsAtSocBp(6000 - Math.floor((2000 * m) / 600)) });
    const { s } = feed(readings.slice(0, 12)); // 55 min: not enough history
    expect(batteryReport(s, C)!.dropBpPerHour).toBeUndefined();
    const full = feed(readings).s;
    const rep = batteryReport(full, C)!;
    expect(rep.dropBpPerHour).toBeGreaterThanOrEqual(180);
    expect(rep.dropBpPerHour).toBeLessThanOrEqual(220);
    // 40 % left minus the SoC at brown-out (1.09 %), at 2 %/h → 19.5 h; the smoothing lag
    // (the average trails by ~8 readings) reads a little high. Allow ±15 %.
    expect(rep.timeToEmptyMin! / 60).toBeGreaterThan(19.5 * 0.85);
    expect(rep.timeToEmptyMin! / 60).toBeLessThan(19.5 * 1.15);
    // Plugging in: no rate, no estimate.
    batteryStep(full, C, { t: 601 * 60_000, mv: 3900, charger: "charging" });
    expect(batteryReport(full, C)!.dropBpPerHour).toBeUndefined();
    expect(full.checkpoints).toEqual([]);
  });

  it("maps the charger and voltage to LwM2M /3 status codes", () => {
    const status = (mv: number | undefined, charger?: ChargerState, n = 3) =>
      feed(Array.from({ length: n }, (_, i) => ({ t: i, mv, charger }))).s.status;
    expect(status(3900)).toBe(0);
    expect(status(3900, "charging")).toBe(1);
    expect(status(4180, "full")).toBe(2);
    expect(status(4600)).toBe(3);
    expect(status(3650)).toBe(4);
    expect(status(300)).toBe(5);
    expect(status(3900, "absent")).toBe(5);
    expect(status(undefined)).toBe(6);
  });
});

describe("BatteryMonitor over the port", () => {
  function adc(readings: (number | Error)[], charger?: ChargerState) {
    let i = 0;
    return {
      resolution: 12,
      fullScaleMv: 6600,
      read() {
        const r = readings[Math.min(i++, readings.length - 1)];
        if (r instanceof Error) throw r;
        return r;
      },
      chargerState: () => charger,
    };
  }
  const mvToRaw = (mv: number) => Math.round((mv * 4096) / 6600);

  it("a failing or out-of-range ADC never crashes; three failures make the status unknown", () => {
    const clock = new VirtualClock();
    const m = new BatteryMonitor({ clock, battery: adc([mvToRaw(3900), mvToRaw(3900), mvToRaw(3900), new Error("i2c"), 99999, new Error("i2c")]) });
    m.prime();
    expect(m.report()!.status).toBe(0);
    m.poll();
    m.poll();
    expect(m.report()!.mv).toBe(3899); // last good median survives two failures
    m.poll();
    expect(m.report()).toBeUndefined();
    expect(m.state.status).toBe(6);
    expect(m.otaAllowed()).toEqual({ allowed: false, reason: "battery-unknown" });
  });

  it("while the radio is busy, reads wait (at most maxReadDeferMs at a time); the first reads at boot never wait", () => {
    const clock = new VirtualClock();
    let reads = 0;
    const battery = { resolution: 12, fullScaleMv: 6600, read: () => (reads++, mvToRaw(3900)) };
    const m = new BatteryMonitor({ clock, battery }, { maxReadDeferMs: 600_000 });
    let busy = true;
    m.deferReadsWhile(() => busy);
    m.prime(); // busy from the start: boot still needs its readings
    expect(reads).toBe(3);
    const at: number[] = [];
    for (let minute = 1; minute <= 25; minute++) {
      clock.advance(60_000);
      const before = reads;
      m.poll();
      if (reads > before) at.push(minute);
    }
    // Deferred from minute 1; one read once 10 min of waiting passed, then the wait starts again.
    expect(at).toEqual([11, 21]);
    expect(m.deferredReads).toBe(23);
    busy = false;
    clock.advance(60_000);
    m.poll();
    expect(reads).toBe(6);
  });

  it("refuses a bad configuration with a clear error", () => {
    const clock = new VirtualClock();
    const battery = adc([2400]);
    expect(() => new BatteryMonitor({ clock, battery }, { curve: [[3000, 0], [4000, 100]] })).toThrow(/lower mV/);
    expect(() => new BatteryMonitor({ clock, battery }, { lowEnterPct: 30, lowExitPct: 20 })).toThrow(/enter ≤ exit/);
    expect(() => new BatteryMonitor({ clock, battery }, { medianWindow: 4 })).toThrow(/odd/);
    expect(() => new BatteryMonitor({ clock, battery }, { lowEnterPct: 20, criticalEnterPct: 10 })).not.toThrow();
  });

  it("a dead cell at boot fires the brown-out handler once after the priming burst", () => {
    const clock = new VirtualClock();
    const m = new BatteryMonitor({ clock, battery: adc([mvToRaw(3300)]) });
    const calls: number[] = [];
    m.onBrownout((mv) => calls.push(mv));
    m.prime();
    m.poll();
    m.poll();
    expect(calls.length).toBe(1);
    expect(m.brownout).toBe(true);
    expect(m.otaAllowed()).toEqual({ allowed: false, reason: "brownout" });
    expect(batteryOtaPrecondition(m)()).toBe("brownout");
    const fresh = new BatteryMonitor({ clock, battery: adc([mvToRaw(4000)]) });
    fresh.prime();
    expect(batteryOtaPrecondition(fresh)()).toBeUndefined();
  });

  it("OTA policy and report stretching follow the alarm level", () => {
    const s = initialBatteryState();
    let t = 0;
    // The average needs a few dozen readings to settle on a new level (1/8 per reading).
    const settle = (mv: number, charger: ChargerState) => {
      for (let i = 0; i < 60; i++) batteryStep(s, C, { t: (t += 60_000), mv, charger });
    };
    settle(3950, "discharging");
    expect(otaVerdict(s, C)).toEqual({ allowed: true });
    settle(3780, "discharging"); // ~36 %
    expect(otaVerdict(s, C)).toEqual({ allowed: true });
    settle(3750, "discharging"); // ~26 %: above the low alarm, below the OTA minimum
    expect(s.alarm).toBe("none");
    expect(otaVerdict(s, C)).toEqual({ allowed: false, reason: "battery-low" });
    settle(3750, "charging");
    expect(otaVerdict(s, C)).toEqual({ allowed: true });
    settle(4500, "discharging");
    expect(otaVerdict(s, C)).toEqual({ allowed: false, reason: "battery-damaged" });
    expect(reportIntervalFor(60_000, "none", C)).toBe(60_000);
    expect(reportIntervalFor(60_000, "low", C)).toBe(240_000);
    expect(reportIntervalFor(60_000, "critical", C)).toBe(960_000);
    expect(reportIntervalFor(3_600_000, "critical", C)).toBe(C.maxReportIntervalMs);
    expect(reportIntervalFor(8 * 3_600_000, "critical", C)).toBe(8 * 3_600_000); // never shorter than base
  });
});

// The battery is read at least every maxBatteryReadIntervalMs (60 s) whatever the sampling
// interval: the reporter's one timer also wakes for battery reads between sampling ticks. At or
// below 60 s sampling nothing changes: no extra wake, the same reads at the same instants.
import { describe, expect, it } from "vitest";
import { REPORT_TX_GUARD_MS, TelemetryReporter, type WakeKind } from "../../device/core/telemetry/reporter";
import { BatteryInputError } from "../../device/core/battery/soc";
import { BatteryMonitor, DEFAULT_BATTERY_CONFIG, validateBatteryConfig, type BatteryConfig } from "../../device/core/battery/monitor";
import { stopOnBrownout } from "../../device/core/telemetry/brownout";
import { countingClock } from "../helpers/counting-clock";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";

const MIN = 60_000;

interface Run {
  log: string[];
  reads: number[];
  publishes: number[];
  timers: number;
  batteryWakes: number;
  wakes: WakeKind[];
  monitor: BatteryMonitor;
}

/** A reporter with a monitor over a steady ADC; logs every read and publish with its instant. */
function run(
  cfg: { sampleIntervalMs: number; reportIntervalMs: number },
  ms: number,
  monitor: Partial<BatteryConfig> = {},
  setup?: (m: BatteryMonitor, r: TelemetryReporter, clock: VirtualClock) => void,
  counts: () => number = () => 2_400,
): Run {
  const clock = new VirtualClock();
  const { clock: counting, counted } = countingClock(clock);
  const log: string[] = [];
  const reads: number[] = [];
  const publishes: number[] = [];
  const wakes: WakeKind[] = [];
  const adc = {
    resolution: 12,
    fullScaleMv: 6600,
    read: () => {
      reads.push(clock.now());
      log.push(`read@${clock.now()}`);
      return counts();
    },
  };
  const m = new BatteryMonitor({ clock, battery: adc }, monitor);
  let seq = 0;
  const reporter = new TelemetryReporter(
    {
      clock: counting,
      wallClock: new VirtualWallClock(clock),
      sensors: new SimSensors(clock, new SeededRandom(7).fork("sensors")),
      identity: { deviceId: "dev-7", firmware: "2.0.1", slot: 1, resetReason: "software" },
      nextSeq: () => seq++,
      battery: m,
      onWake: (kind) => wakes.push(kind),
      publish: () => {
        publishes.push(clock.now());
        log.push(`publish@${clock.now()}`);
      },
    },
    cfg,
  );
  setup?.(m, reporter, clock);
  reporter.start();
  clock.advance(ms);
  const batteryWakes = reporter.batteryWakes;
  reporter.stop();
  return { log, reads, publishes, timers: counted.set, batteryWakes, wakes, monitor: m };
}

/** No read inside a report's TX window: none in (publish, publish + REPORT_TX_GUARD_MS]. */
function readsInTxWindow(r: Run): number[] {
  return r.reads.filter((t) => r.publishes.some((p) => t > p && t <= p + REPORT_TX_GUARD_MS));
}

describe("battery reads between sampling ticks (maxBatteryReadIntervalMs)", () => {
  it("at or below 60 s sampling nothing changes: the same reads, publishes and timers as with no maximum", () => {
    const never = { maxBatteryReadIntervalMs: 86_400_000 };
    for (const cfg of [
      { sampleIntervalMs: 60_000, reportIntervalMs: 300_000 },
      { sampleIntervalMs: 60_000, reportIntervalMs: 60_000 },
      { sampleIntervalMs: 60_000, reportIntervalMs: 59_950 }, // ticks read early, before the report
      { sampleIntervalMs: 30_000, reportIntervalMs: 120_000 },
    ]) {
      const now = run(cfg, 6 * 3_600_000);
      const before = run(cfg, 6 * 3_600_000, never);
      expect(now.batteryWakes, JSON.stringify(cfg)).toBe(0);
      expect(now.wakes.every((k) => k === "sample")).toBe(true);
      expect(now.log, JSON.stringify(cfg)).toEqual(before.log);
      expect(now.timers, JSON.stringify(cfg)).toBe(before.timers);
    }
  });

  it("at 10-min sampling the battery is read every minute: 9 wakes of its own per tick, none in a report's TX window", () => {
    const r = run({ sampleIntervalMs: 600_000, reportIntervalMs: 600_000 }, 3_600_000);
    expect(r.reads).toEqual(Array.from({ length: 61 }, (_, i) => i * MIN));
    expect(r.batteryWakes).toBe(54);
    expect(r.wakes.filter((k) => k === "battery").length).toBe(54);
    expect(r.wakes.filter((k) => k === "sample").length).toBe(7); // ticks at 0, 10, …, 60 min
    expect(readsInTxWindow(r)).toEqual([]);
    // Each report at a tick's instant: the reading precedes its TX.
    for (const p of r.publishes) expect(r.log.indexOf(`read@${p}`)).toBeLessThan(r.log.indexOf(`publish@${p}`));
    // Under the old rule: 7 reads an hour.
    expect(run({ sampleIntervalMs: 600_000, reportIntervalMs: 600_000 }, 3_600_000, { maxBatteryReadIntervalMs: 86_400_000 }).reads.length).toBe(7);
  });

  it("a read due within a report's TX window is taken before the report, not after it", () => {
    // Reports every 179.95 s; reads between ticks at each minute: the one due at 180 s is 50 ms after a report.
    const r = run({ sampleIntervalMs: 600_000, reportIntervalMs: 179_950 }, 600_000);
    expect(readsInTxWindow(r)).toEqual([]);
    expect(r.log.slice(r.log.indexOf("read@179950"), r.log.indexOf("read@179950") + 3)).toEqual(["read@179950", "publish@179950", "read@240000"]);
    expect(r.reads).not.toContain(180_000);
    // Still one read per minute slot: the tick at 0, the eight others at their minute, and the one taken early.
    expect(r.reads.length).toBe(11);
  });

  it("uneven intervals: equal parts, every gap within the maximum", () => {
    const r = run({ sampleIntervalMs: 610_000, reportIntervalMs: 610_000 }, 610_000 * 3);
    const gaps = r.reads.slice(1).map((t, i) => t - r.reads[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(MIN);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(55_000); // 610 s in 11 parts of 55.45 s
    expect(r.batteryWakes).toBe(30);
    // A longer maximum: 5-min sampling read every 150 s with a 150 s maximum… and not at all past it.
    expect(run({ sampleIntervalMs: 300_000, reportIntervalMs: 300_000 }, 900_000, { maxBatteryReadIntervalMs: 150_000 }).reads).toEqual(
      [0, 150_000, 300_000, 450_000, 600_000, 750_000, 900_000],
    );
  });

  it("after setConfig the reads follow the new sampling interval from then on", () => {
    let reporter: TelemetryReporter | undefined;
    const r = run({ sampleIntervalMs: 60_000, reportIntervalMs: 600_000 }, 30 * MIN, {}, (_m, rep, clock) => {
      reporter = rep;
      clock.setTimeout(() => reporter!.setConfig({ sampleIntervalMs: 300_000, reportIntervalMs: 600_000 }), 150_000);
    });
    const after = r.reads.filter((t) => t > 150_000);
    const gaps = after.slice(1).map((t, i) => t - after[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(MIN);
    expect(r.batteryWakes).toBeGreaterThan(0);
  });

  it("keeps the OTA rule: while the radio is busy the reads between ticks wait too (at most maxReadDeferMs)", () => {
    const r = run({ sampleIntervalMs: 600_000, reportIntervalMs: 600_000 }, 3_600_000, {}, (m) => m.deferReadsWhile(() => true));
    // Busy for the whole hour: one read per maxReadDeferMs (10 min), however many wakes.
    expect(r.batteryWakes).toBe(54);
    expect(r.reads.length).toBeLessThanOrEqual(7);
    expect(r.monitor.deferredReads).toBeGreaterThan(50);
  });

  it("a brown-out found at a read between ticks stops the reporter and saves the buffered samples", () => {
    let saved = -1;
    let brownoutAt = -1;
    let n = 0;
    // 3.9 V, then from the 20th read on 3.3 V: below the 3450 mV brown-out once the median and trend follow.
    const r = run({ sampleIntervalMs: 600_000, reportIntervalMs: 3_600_000 }, 3 * 3_600_000, {}, (m, rep, clock) => {
      stopOnBrownout(m, rep, { save: (b) => (saved = b.length), shutdown: () => {} });
      m.onBrownout(() => (brownoutAt = clock.now()));
    }, () => (n++ < 20 ? 2_420 : 2_048));
    expect(r.monitor.brownout).toBe(true);
    expect(saved).toBeGreaterThan(0);
    expect(brownoutAt % 600_000).not.toBe(0); // it came at a read of its own, between ticks
    expect(r.reads[r.reads.length - 1]).toBe(brownoutAt); // and nothing read after it
    expect(r.publishes).toEqual([]); // the hourly report never came: the samples went to the save
  });
});

describe("maxBatteryReadIntervalMs is a bounded config value", () => {
  for (const bad of [0, 999, 1.5, 86_400_001, Number.NaN]) {
    it(`refuses ${bad} with a message naming it and its range`, () => {
      expect(() => validateBatteryConfig({ ...DEFAULT_BATTERY_CONFIG, maxBatteryReadIntervalMs: bad })).toThrow(BatteryInputError);
      expect(() => validateBatteryConfig({ ...DEFAULT_BATTERY_CONFIG, maxBatteryReadIntervalMs: bad })).toThrow(/maxBatteryReadIntervalMs must be an integer 1000\.\.86400000 ms/);
    });
  }
  it("defaults to 60 s", () => {
    expect(DEFAULT_BATTERY_CONFIG.maxBatteryReadIntervalMs).toBe(60_000);
  });
});

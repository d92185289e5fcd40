/**
 * The reporter's one clock timer for sampling ticks and reports: equal intervals cost one
 * timer per report, and at one instant the two still run in the order they were scheduled
 * (which decides whether the sample taken at a report's instant is in that batch or the next).
 */
import { describe, expect, it } from "vitest";
import { TelemetryReporter } from "../../device/core/telemetry/reporter";
import { decodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";
import { countingClock } from "../helpers/counting-clock";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";

function setup(cfg: { sampleIntervalMs: number; reportIntervalMs: number }) {
  const clock = new VirtualClock();
  const { clock: counting, counted } = countingClock(clock);
  const sent: { batch: TelemetryBatch; at: number }[] = [];
  let seq = 0;
  const reporter = new TelemetryReporter(
    {
      clock: counting,
      wallClock: new VirtualWallClock(clock),
      sensors: new SimSensors(clock, new SeededRandom(7).fork("sensors")),
      identity: { deviceId: "dev-7", firmware: "2.0.1", slot: 1, resetReason: "software" },
      nextSeq: () => seq++,
      publish: (bytes) => sent.push({ batch: decodeTelemetryBatch(bytes), at: clock.now() }),
    },
    cfg,
  );
  return { clock, reporter, sent, timers: () => counted.set };
}

const sampleTimes = (b: TelemetryBatch) => b.samples.map((s) => s.tMs);

describe("TelemetryReporter timer", () => {
  it("equal intervals: one timer per report; from boot the report runs first, so a batch ends before its own instant", () => {
    const { clock, reporter, sent, timers } = setup({ sampleIntervalMs: 60_000, reportIntervalMs: 60_000 });
    reporter.start();
    clock.advance(20 * 60_000);
    expect(sent.map((s) => s.at)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 60_000));
    // The sample taken at a report's instant goes in the next batch (scheduled after the report at boot).
    expect(sent.map((s) => sampleTimes(s.batch))).toEqual(Array.from({ length: 20 }, (_, i) => [i * 60_000]));
    // The first tick, one per report, the next one armed; two timers (sample, report) would be 2 per report.
    expect(timers()).toBeLessThanOrEqual(20 + 2);
    reporter.stop();
    expect(clock.pending()).toBe(0);
  });

  it("after setConfig the sample is scheduled first, so at one instant it runs first and lands in that batch", () => {
    const { clock, reporter, sent } = setup({ sampleIntervalMs: 60_000, reportIntervalMs: 60_000 });
    reporter.start();
    clock.advance(90_000); // one report at 60 s (sample at 0), a sample at 60 s buffered
    reporter.setConfig({ sampleIntervalMs: 30_000, reportIntervalMs: 30_000 });
    clock.advance(90_000);
    expect(sent.map((s) => s.at)).toEqual([60_000, 120_000, 150_000, 180_000]);
    expect(sent.map((s) => sampleTimes(s.batch))).toEqual([[0], [60_000, 120_000], [150_000], [180_000]]);
  });

  it("different intervals: each tick and report on its own schedule, none lost or doubled", () => {
    const { clock, reporter, sent } = setup({ sampleIntervalMs: 7_000, reportIntervalMs: 30_000 });
    reporter.start();
    clock.advance(300_000);
    expect(sent.map((s) => s.at)).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 30_000));
    const times = sent.flatMap((s) => sampleTimes(s.batch));
    // Ticks at 0, 7 s, 14 s, ...; one at 210 s coincides with a report (scheduled after it: next batch).
    expect(times).toEqual(Array.from({ length: 43 }, (_, i) => i * 7_000).filter((t) => t < 300_000));
  });
});

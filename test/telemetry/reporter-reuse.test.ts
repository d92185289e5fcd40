/**
 * reportNow reuses its lists of built batches from one report to the next, and consumes the
 * buffer in place: a backlog split over several batches still goes out whole and in order, a
 * publish that reports again (re-entrant) neither loses nor doubles a batch, and the next
 * report starts from empty lists.
 */
import { describe, expect, it } from "vitest";
import { TelemetryReporter } from "../../device/core/telemetry/reporter";
import { decodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";

function setup(maxBytes: number, onPublish?: (reporter: TelemetryReporter, count: number) => void) {
  const clock = new VirtualClock();
  const sent: TelemetryBatch[] = [];
  let seq = 0;
  const reporter: TelemetryReporter = new TelemetryReporter(
    {
      clock,
      wallClock: new VirtualWallClock(clock),
      sensors: new SimSensors(clock, new SeededRandom(3).fork("sensors")),
      identity: { deviceId: "dev-3", firmware: "2.0.1", slot: 0, resetReason: "power-on" },
      nextSeq: () => seq++,
      publish: (bytes) => {
        sent.push(decodeTelemetryBatch(bytes));
        onPublish?.(reporter, sent.length);
      },
      maxBytes,
    },
    { sampleIntervalMs: 60_000, reportIntervalMs: 3_600_000 },
  );
  return { clock, reporter, sent };
}

const times = (batches: TelemetryBatch[]) => batches.flatMap((b) => b.samples.map((s) => s.tMs));
const minutes = (n: number) => Array.from({ length: n }, (_, i) => i * 60_000);

describe("TelemetryReporter list reuse", () => {
  it("a backlog split over batches goes out whole, in order, and the next report starts empty", () => {
    const { clock, reporter, sent } = setup(200);
    reporter.start();
    clock.advance(40 * 60_000 - 1); // 40 samples buffered, no report yet
    expect(reporter.reportNow()).toBeGreaterThan(2);
    expect(times(sent)).toEqual(minutes(40));
    expect(sent.map((b) => b.seq)).toEqual(sent.map((_, i) => i));
    const first = sent.length;
    clock.advance(60_000); // one more sample
    expect(reporter.reportNow()).toBe(1);
    expect(sent.slice(first).map((b) => times([b]))).toEqual([[40 * 60_000]]);
    expect(reporter.bufferedSamples).toBe(0);
  });

  it("a publish that reports again loses and doubles nothing", () => {
    let again = true;
    let inner = 0;
    const { clock, reporter, sent } = setup(200, (r) => {
      if (!again) return;
      again = false;
      // Enough samples taken inside the publish for the inner report to need several batches too.
      for (let i = 0; i < 40; i++) r.sampleNow();
      inner = r.reportNow();
    });
    reporter.start();
    clock.advance(40 * 60_000 - 1);
    const outer = reporter.reportNow();
    expect(outer).toBeGreaterThan(2);
    // Every batch of both reports once, and every sample of both.
    expect(inner).toBeGreaterThan(2);
    expect(sent.length).toBe(outer + inner);
    expect(new Set(sent.map((b) => b.seq)).size).toBe(sent.length);
    expect(times(sent).sort((a, b) => a - b)).toEqual([...minutes(40), ...Array<number>(40).fill(40 * 60_000 - 1)]);
    clock.advance(60_000);
    expect(reporter.reportNow()).toBe(1);
    expect(times(sent.slice(-1))).toEqual([40 * 60_000]);
  });
});

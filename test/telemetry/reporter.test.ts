import { describe, expect, it } from "vitest";
import { REPORT_TX_GUARD_MS, TelemetryReporter, type TelemetryReporterDeps } from "../../device/core/telemetry/reporter";
import { decodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";
import { BatteryMonitor } from "../../device/core/battery/monitor";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";
import { SimBattery } from "../../host-sim/battery/sim-battery";
import { testSeed } from "../helpers/seed";

const SEED = testSeed(Date.now() % 1_000_000);
const replay = `SEED=${SEED} npx vitest run test/telemetry/reporter.test.ts`;

function setup(over: Partial<TelemetryReporterDeps> = {}, cfg = { sampleIntervalMs: 10_000, reportIntervalMs: 60_000 }) {
  const clock = new VirtualClock();
  const wall = new VirtualWallClock(clock);
  const rnd = new SeededRandom(SEED);
  const sensors = new SimSensors(clock, rnd.fork("sensors"));
  const sent: { bytes: Uint8Array; decoded: TelemetryBatch; at: number }[] = [];
  const logs: string[] = [];
  let seq = 100;
  const reporter = new TelemetryReporter(
    {
      clock,
      wallClock: wall,
      sensors,
      identity: { deviceId: "dev-7", firmware: "2.0.1", slot: 1, resetReason: "software" },
      nextSeq: () => seq++,
      publish: (bytes) => sent.push({ bytes, decoded: decodeTelemetryBatch(bytes), at: clock.now() }),
      log: (level, m) => logs.push(`${level} ${m}`),
      ...over,
    },
    cfg,
  );
  return { clock, wall, sensors, reporter, sent, logs, rnd };
}

describe(`TelemetryReporter (${replay})`, () => {
  it("samples and reports on schedule; every sample arrives once, in order, with consecutive seqs", () => {
    const { clock, reporter, sent } = setup();
    reporter.start();
    clock.advance(10 * 60_000);
    expect(sent.length).toBe(10);
    expect(sent.map((s) => s.at)).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 60_000));
    expect(sent.map((s) => s.decoded.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
    const times = sent.flatMap((s) => s.decoded.samples.map((x) => x.tMs));
    expect(times).toEqual(Array.from({ length: 60 }, (_, i) => i * 10_000));
    for (const s of sent) {
      expect(s.decoded.timeBase).toBe("uptime");
      expect(s.decoded.deviceId).toBe("dev-7");
      expect(s.decoded.samples.length).toBe(6);
      expect(s.decoded.samples[0].temperatureCentiC).toBeTypeOf("number");
    }
    reporter.stop();
    reporter.stop(); // twice is fine
    expect(clock.pending()).toBe(0);
  });

  it("switches to wall time once the clock is synced, converting earlier samples exactly", () => {
    const { clock, wall, reporter, sent } = setup();
    reporter.start();
    clock.advance(30_000);
    wall.sync(1_795_000_000_000);
    clock.advance(30_000);
    expect(sent.length).toBe(1);
    const b = sent[0].decoded;
    expect(b.timeBase).toBe("wall");
    expect(b.madeAtMs).toBe(1_795_000_030_000);
    expect(b.uptimeMs).toBe(60_000);
    expect(b.samples.map((s) => s.tMs)).toEqual([0, 10, 20, 30, 40, 50].map((s) => 1_794_999_970_000 + s * 1000));
  });

  it("splits a large backlog into batches under the byte limit without losing a sample", () => {
    const { clock, reporter, sent } = setup({ maxBytes: 300 }, { sampleIntervalMs: 1_000, reportIntervalMs: 120_000 });
    reporter.start();
    clock.advance(120_000);
    expect(sent.length).toBeGreaterThan(5);
    for (const s of sent) expect(s.bytes.length).toBeLessThanOrEqual(300);
    const times = sent.flatMap((s) => s.decoded.samples.map((x) => x.tMs));
    expect(times).toEqual(Array.from({ length: 120 }, (_, i) => i * 1000));
  });

  it("bounds the sample buffer, dropping the oldest and counting them in the next batch", () => {
    const { clock, reporter, sent } = setup({ maxBufferedSamples: 8 }, { sampleIntervalMs: 1_000, reportIntervalMs: 20_000 });
    reporter.start();
    clock.advance(20_000);
    expect(sent.length).toBe(1);
    expect(sent[0].decoded.samples.length).toBe(8);
    expect(sent[0].decoded.samplesDropped).toBe(12);
    expect(sent[0].decoded.samples[0].tMs).toBe(12_000);
    clock.advance(20_000);
    expect(sent[1].decoded.samplesDropped).toBe(12); // counted again for the new window only
  });

  it("a failing sensor or publish is logged and counted, never crashes the loop", () => {
    let fail = true;
    const { clock, reporter, sent, sensors, logs } = setup({
      publish: (bytes) => {
        if (fail) {
          fail = false;
          throw new Error("queue full");
        }
        sent.push({ bytes, decoded: decodeTelemetryBatch(bytes), at: clock.now() });
      },
    });
    reporter.start();
    sensors.failNext = true;
    clock.advance(120_000);
    expect(reporter.lostBatches).toBe(1);
    expect(sent.length).toBe(1);
    expect(logs.some((l) => l.includes("sensor read failed"))).toBe(true);
    expect(logs.some((l) => l.includes("queue full"))).toBe(true);
    expect(reporter.isRunning).toBe(true);
  });

  it("refuses nonsense intervals with a clear error and keeps the old ones", () => {
    const { reporter } = setup();
    expect(() => reporter.setConfig({ sampleIntervalMs: 0, reportIntervalMs: 60_000 })).toThrow(/sampleIntervalMs/);
    expect(() => reporter.setConfig({ sampleIntervalMs: 1000, reportIntervalMs: NaN })).toThrow(/reportIntervalMs/);
    expect(reporter.currentConfig).toEqual({ sampleIntervalMs: 10_000, reportIntervalMs: 60_000 });
  });

  it("an out-of-range sensor value is discarded and counted; its neighbours still go out", () => {
    let k = 0;
    const { clock, reporter, sent, logs } = setup({ sensors: { sample: () => ({ humidityPermille: k++ === 2 ? 1500 : 500 }) } });
    reporter.start();
    clock.advance(60_000);
    expect(sent[0].decoded.samples.length).toBe(5);
    expect(sent[0].decoded.samplesDropped).toBe(1);
    expect(logs.some((l) => l.includes("sample discarded"))).toBe(true);
  });

  it("setConfig applies new intervals from now on", () => {
    const { clock, reporter, sent } = setup();
    reporter.start();
    clock.advance(60_000);
    reporter.setConfig({ sampleIntervalMs: 5_000, reportIntervalMs: 20_000 });
    clock.advance(60_000);
    expect(sent.map((s) => s.at)).toEqual([60_000, 80_000, 100_000, 120_000]);
    expect(sent[2].decoded.samples.length).toBe(4);
  });

  it("carries battery state from the monitor and link stats from the link", () => {
    const clock = new VirtualClock();
    const battery = new SimBattery(clock, new SeededRandom(SEED));
    const monitor = new BatteryMonitor({ clock, battery });
    const { reporter, sent } = setup({ clock, battery: monitor, linkStats: () => ({ state: "online", reconnects: 2, queued: 0, dropped: 1 }) });
    reporter.start();
    clock.advance(60_000);
    const b = sent[0].decoded;
    expect(b.battery?.status, replay).toBe(0);
    // A full cell: the reading (floored, ±1 LSB of ADC noise) is within a point of the true charge.
    expect(Math.abs(b.battery!.pct - battery.chargePermille() / 10)).toBeLessThanOrEqual(1);
    expect(b.battery?.mv).toBeGreaterThan(4100);
    expect(b.link).toEqual({ state: "online", reconnects: 2, queued: 0, dropped: 1 });
  });

  it("announces in every batch the reporting interval its next report is armed with: the configured one, ×4 once the battery is low", () => {
    const run = (counts: number) => {
      const clock = new VirtualClock();
      const adc = { resolution: 12, fullScaleMv: 6600, read: () => counts };
      const { reporter, sent } = setup({ clock, battery: new BatteryMonitor({ clock, battery: adc }) });
      reporter.start();
      clock.advance(20 * 60_000);
      reporter.stop();
      return sent.map((s) => [s.decoded.madeAtMs, s.decoded.reportIntervalSec, s.decoded.battery?.alarm ?? "none"]);
    };
    // A healthy cell (3.9 V): every minute, announcing 60 s.
    expect(run(2420).slice(0, 3)).toEqual([[60_000, 60, "none"], [120_000, 60, "none"], [180_000, 60, "none"]]);
    // A low cell (3.71 V, ~18 %): the alarm is up by the first report, which announces 240 s, and the next comes 240 s later.
    expect(run(2300).slice(0, 3)).toEqual([[60_000, 240, "low"], [300_000, 240, "low"], [540_000, 240, "low"]]);
  });

  it("reads the battery before a report's TX, once per tick, when a tick falls due with the report or within its TX window", () => {
    const run = (cfg: { sampleIntervalMs: number; reportIntervalMs: number }, ms: number) => {
      const clock = new VirtualClock();
      const log: string[] = [];
      const adc = { resolution: 12, fullScaleMv: 6600, read: () => (log.push(`read@${clock.now()}`), 2_400) };
      const { reporter } = setup({ clock, battery: new BatteryMonitor({ clock, battery: adc }), publish: () => log.push(`publish@${clock.now()}`) }, cfg);
      reporter.start();
      clock.advance(ms);
      reporter.stop();
      return log;
    };
    // Equal intervals: the report timer falls due first at each shared instant; the reading still precedes it.
    expect(run({ sampleIntervalMs: 60_000, reportIntervalMs: 60_000 }, 180_000)).toEqual([
      "read@0", "read@60000", "publish@60000", "read@120000", "publish@120000", "read@180000", "publish@180000",
    ]);
    // A tick due 50 ms and then 100 ms after the report: read before the report, not again at the tick;
    // 150 ms after is outside the TX window: read at the tick.
    const guard = REPORT_TX_GUARD_MS;
    expect(guard).toBe(100);
    expect(run({ sampleIntervalMs: 60_000, reportIntervalMs: 59_950 }, 180_000)).toEqual([
      "read@0", "read@59950", "publish@59950", "read@119900", "publish@119900", "publish@179850", "read@180000",
    ]);
  });
});

// When the agent reads its battery: a real Agent (link, MQTT, reporter, monitor) on a virtual
// device whose cell holds a constant true charge (a large cell, a few hours: no visible drain).
// The reading must track the truth whatever the sampling and reporting intervals are: not sag
// into the low-battery alarm when every read falls in a report's TX burst (sample interval =
// report interval), and not read high when reads fall between reports.
import { describe, expect, it } from "vitest";
import { Agent, type AgentEvent } from "../../device/core/agent";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { virtualDevicePorts } from "../../host-sim/virtual-device";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/battery/sampling-policy.test.ts";
const SEED = testSeed(4242);
const HOUR = 3_600_000;
/**
 * Reported SoC vs true charge, in % points, once the median and average have settled (after the
 * first hour). The device's curve and the simulated cell agree to within a few mV at the read's
 * load; ±1 LSB of ADC noise and an occasional read beside some other packet's TX stay inside this.
 */
const TOLERANCE_PCT = 3;

interface Run {
  /** Reported pct minus true %, at every report after the first hour. */
  errors: number[];
  alarms: string[];
  truePct: number;
}

function run(startPermille: number, sampleIntervalMs: number, reportIntervalMs: number, hours = 8): Run {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  new VirtualBroker(network).start();
  // 4,000 mAh: eight hours of this device's drain is ~0.3 % of the cell, so the truth stays put.
  const device = virtualDevicePorts({ seed: SEED, clock, network, batteryModel: { capacityMah: 4000, startPermille, capacityVariationPermille: 0 } });
  const events: AgentEvent[] = [];
  const errors: number[] = [];
  let truePct = 0;
  // Every batch is scored against the true charge at the instant it was made.
  const agent = new Agent(device.ports, { deviceId: "dev-bat", brokers: ["mqtt://broker:1883"], telemetry: { sampleIntervalMs, reportIntervalMs } }, (e) => {
    events.push(e);
    if (e.type !== "telemetry" || e.batch.uptimeMs < HOUR || e.batch.battery === undefined) return;
    truePct = device.battery.chargePermille() / 10;
    errors.push(e.batch.battery.pct - truePct);
  });
  agent.start();
  clock.advance(hours * HOUR);
  agent.stop();
  const alarms = events.flatMap((e) => (e.type === "battery" && e.event.type === "alarm" ? [`${e.event.alarm}@${e.event.pct}%`] : []));
  return { errors, alarms, truePct };
}

const worst = (xs: number[]) => xs.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);

describe(`battery sampling policy: reported charge vs truth (seed ${SEED})`, () => {
  it("sample interval = report interval (10 min): no low alarm at 28 % or 29.8 % true, reported SoC within ±3 points", () =>
    withSeed(SEED, FILE, () => {
      for (const permille of [280, 298]) {
        const r = run(permille, 600_000, 600_000);
        expect(r.alarms, `true ${r.truePct} %`).toEqual([]);
        expect(r.errors.length).toBeGreaterThanOrEqual(15);
        expect(Math.abs(worst(r.errors)), `errors ${r.errors.join(" ")} at true ${r.truePct} %`).toBeLessThanOrEqual(TOLERANCE_PCT);
      }
    }));

  it("sampling more often than reporting (3 min / 10 min): reported SoC within ±3 points of 29.8 % true", () =>
    withSeed(SEED, FILE, () => {
      const r = run(298, 180_000, 600_000);
      expect(r.alarms, `true ${r.truePct} %`).toEqual([]);
      expect(r.errors.length).toBeGreaterThanOrEqual(15);
      expect(Math.abs(worst(r.errors)), `errors ${r.errors.join(" ")} at true ${r.truePct} %`).toBeLessThanOrEqual(TOLERANCE_PCT);
    }));

  it("the alarm still comes when it should: at 17 % true, both intervals raise low and report within ±3 points", () =>
    withSeed(SEED, FILE, () => {
      for (const [sample, report] of [
        [600_000, 600_000],
        [180_000, 600_000],
      ]) {
        const r = run(170, sample, report);
        expect(r.alarms, `${sample}/${report} ms`).toEqual([expect.stringMatching(/^low@1\d%$/)]);
        // Reports stretch ×4 while low: fewer of them, still some after the first hour.
        expect(r.errors.length).toBeGreaterThanOrEqual(3);
        expect(Math.abs(worst(r.errors)), `${sample}/${report} ms: errors ${r.errors.join(" ")} at true ${r.truePct} %`).toBeLessThanOrEqual(TOLERANCE_PCT);
      }
    }));
});

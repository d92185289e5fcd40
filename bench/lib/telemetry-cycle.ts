/**
 * One device's telemetry cycle, assembled without a network: battery monitor over the
 * simulated cell, simulated sensors, the real reporter (batch, CBOR), and MQTT QoS 1 PUBLISH
 * framing of each batch. Portable: the XS cost scenario and the Node benchmark share it.
 */
import { BatteryMonitor } from "../../device/core/battery/monitor";
import { encodePublish } from "../../device/core/mqtt/codec";
import { TelemetryReporter } from "../../device/core/telemetry/reporter";
import { SimBattery } from "../../host-sim/battery/sim-battery";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";

export const CYCLE_EPOCH_MS = 1_795_000_000_000;
const SAMPLE_INTERVAL_MS = 60_000;

export interface TelemetryCycle {
  /** Samples `samplesPerReport` times, reports (build, encode, frame), advances the clock. */
  cycle(): void;
  reporter: TelemetryReporter;
  monitor: BatteryMonitor;
  /** Size of the last MQTT frame. */
  lastFrameBytes(): number;
}

export function telemetryCycle(samplesPerReport: number): TelemetryCycle {
  const clock = new VirtualClock();
  const wall = new VirtualWallClock(clock);
  wall.sync(CYCLE_EPOCH_MS);
  const rnd = new SeededRandom(7);
  const monitor = new BatteryMonitor({ clock, battery: new SimBattery(clock, rnd.fork("b")) });
  let seq = 0;
  let packetId = 0;
  let frameBytes = 0;
  const reporter = new TelemetryReporter(
    {
      clock,
      wallClock: wall,
      sensors: new SimSensors(clock, rnd.fork("s")),
      identity: { deviceId: "dev-0001", firmware: "1.4.2", slot: 1, resetReason: "power-on" },
      nextSeq: () => seq++,
      battery: monitor,
      linkStats: () => ({ state: "online", reconnects: 1, queued: 0, dropped: 0 }),
      publish: (bytes) => {
        packetId = (packetId % 65535) + 1;
        frameBytes = encodePublish({ topic: "tether/dev-0001/telemetry", payload: bytes, qos: 1, packetId }).length;
      },
    },
    { sampleIntervalMs: SAMPLE_INTERVAL_MS, reportIntervalMs: SAMPLE_INTERVAL_MS * samplesPerReport },
  );
  monitor.prime();
  return {
    cycle() {
      for (let i = 0; i < samplesPerReport; i++) reporter.sampleNow();
      reporter.reportNow();
      clock.advance(SAMPLE_INTERVAL_MS * samplesPerReport);
    },
    reporter,
    monitor,
    lastFrameBytes: () => frameBytes,
  };
}

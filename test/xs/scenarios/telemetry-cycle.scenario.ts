// XS cost of telemetry cycles (for bench/telemetry.bench.ts): read the battery through the
// monitor, sample the sensors, build the batch, CBOR-encode it, frame it as an MQTT QoS 1
// PUBLISH. Reported per cycle, warm (after a first cycle that pays for setup).
import type { ScenarioHost } from "../scenario-host";
import { VirtualClock } from "../../../host-sim/virtual/clock";
import { VirtualWallClock } from "../../../host-sim/virtual/wall-clock";
import { SeededRandom } from "../../../host-sim/virtual/random";
import { SimBattery } from "../../../host-sim/battery/sim-battery";
import { SimSensors } from "../../../host-sim/sensors/sim-sensors";
import { BatteryMonitor } from "../../../device/core/battery/monitor";
import { TelemetryReporter } from "../../../device/core/telemetry/reporter";
import { encodePublish } from "../../../device/core/mqtt/codec";
import { decodeTelemetryBatch } from "../../../device/core/telemetry/record";

export function run(host: ScenarioHost): void {
  const out: string[] = [];
  for (const samplesPerReport of [1, 5, 15]) {
    const clock = new VirtualClock();
    const wall = new VirtualWallClock(clock);
    wall.sync(1_795_000_000_000);
    const rnd = new SeededRandom(7);
    const battery = new SimBattery(clock, rnd.fork("b"));
    const monitor = new BatteryMonitor({ clock, battery });
    let seq = 0;
    let frameBytes = 0;
    let packetId = 0;
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
      { sampleIntervalMs: 60_000, reportIntervalMs: 60_000 * samplesPerReport },
    );
    monitor.prime();
    host.meter();
    const cycle = () => {
      for (let i = 0; i < samplesPerReport; i++) reporter.sampleNow();
      reporter.reportNow();
      clock.advance(60_000 * samplesPerReport);
    };
    cycle();
    const first = host.meter();
    const N = 20;
    for (let i = 0; i < N; i++) cycle();
    const warm = Math.round(host.meter() / N);
    // Parts of one warm cycle, measured separately.
    for (let i = 0; i < samplesPerReport; i++) reporter.sampleNow();
    host.meter();
    reporter.reportNow();
    const report = host.meter();
    out.push(`cycle-${samplesPerReport}-first ${first}`, `cycle-${samplesPerReport}-warm ${warm}`, `report-${samplesPerReport}-warm ${report}`, `frame-${samplesPerReport}-bytes ${frameBytes}`);
    monitor.poll();
    const poll = host.meter();
    if (samplesPerReport === 1) out.push(`battery-poll ${poll}`);
    if (samplesPerReport === 1) out.push(`decoded-seq ${decodeTelemetryBatch(reporter.flush()[0]).seq}`);
  }
  for (const l of out) host.emit(l);
}

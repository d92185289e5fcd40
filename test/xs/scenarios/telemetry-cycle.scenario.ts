// XS cost of telemetry cycles (for bench/telemetry.bench.ts): read the battery through the
// monitor, sample the sensors, build the batch, CBOR-encode it, frame it as an MQTT QoS 1
// PUBLISH. Reported per cycle, warm (after a first cycle that pays for setup).
import type { ScenarioHost } from "../scenario-host";
import { decodeTelemetryBatch } from "../../../device/core/telemetry/record";
import { telemetryCycle } from "../../../bench/lib/telemetry-cycle";

export function run(host: ScenarioHost): void {
  const out: string[] = [];
  for (const samplesPerReport of [1, 5, 15]) {
    const { cycle, reporter, monitor, lastFrameBytes } = telemetryCycle(samplesPerReport);
    host.meter();
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
    out.push(`cycle-${samplesPerReport}-first ${first}`, `cycle-${samplesPerReport}-warm ${warm}`, `report-${samplesPerReport}-warm ${report}`, `frame-${samplesPerReport}-bytes ${lastFrameBytes()}`);
    monitor.poll();
    const poll = host.meter();
    if (samplesPerReport === 1) out.push(`battery-poll ${poll}`);
    if (samplesPerReport === 1) out.push(`decoded-seq ${decodeTelemetryBatch(reporter.flush()[0]).seq}`);
  }
  for (const l of out) host.emit(l);
}

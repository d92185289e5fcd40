// The foundation's cross-engine scenario: a virtual device boots, reads its battery, samples,
// publishes CBOR telemetry over MQTT to the virtual broker, survives a network drop, and stops.
// Every agent event and every byte the backend receives goes into the trace, so Node and XS
// must agree byte for byte.
import type { ScenarioHost } from "../scenario-host";
import { Agent, type AgentEvent } from "../../../device/core/agent";
import { decodeTelemetryBatch } from "../../../device/core/telemetry/record";
import { VirtualBroker } from "../../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../../host-sim/virtual/network";
import { virtualDevicePorts } from "../../../host-sim/virtual-device";

const MINUTE = 60_000;

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

export function describe(e: AgentEvent): string {
  switch (e.type) {
    case "boot":
      return `boot ${e.version} slot=${e.slot} reset=${e.resetReason}`;
    case "battery":
      return `battery ${JSON.stringify(e.event)}`;
    case "link":
      return `link ${e.state} ${e.detail}`;
    case "telemetry":
      return `telemetry seq=${e.batch.seq} queued=${e.queued} samples=${e.batch.samples.length} ${hex(e.payload)}`;
    case "ota":
      return `ota ${JSON.stringify(e.status)}`;
    case "error":
      return `error ${e.message}`;
  }
}

export function run(host: ScenarioHost): void {
  const clock = new VirtualClock(0);
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const at = () => String(clock.now()).padStart(7, " ");

  broker.subscribeInternal("tether/+/telemetry", (topic, payload) => {
    const batch = decodeTelemetryBatch(payload);
    host.emit(`${at()} backend ${topic} seq=${batch.seq} mv=${batch.battery?.mv} samples=${batch.samples.length}`);
  });

  const device = virtualDevicePorts({ seed: 42, clock, network });
  device.wallClock.sync(1_790_000_000_000);
  const agent = new Agent(
    device.ports,
    {
      deviceId: "xs-1",
      brokers: ["mqtt://broker:1883"],
      firmwareVersion: "1.0.0",
      telemetry: { sampleIntervalMs: 10_000, reportIntervalMs: 30_000 },
    },
    (e) => host.emit(`${at()} ${describe(e)}`),
  );

  agent.start();
  clock.advance(3 * MINUTE);
  host.emit(`${at()} fault: network drops`);
  network.dropAll();
  clock.advance(2 * MINUTE);
  agent.stop();
  clock.runUntilIdle(clock.now() + 10 * MINUTE);
  const s = broker.stats;
  host.emit(`${at()} broker connects=${s.connects} published=${s.published} delivered=${s.delivered} bytesIn=${s.bytesIn}`);
  host.emit(`${at()} timers pending=${clock.pending()}`);
}

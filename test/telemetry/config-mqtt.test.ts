// End to end over real MQTT bytes in virtual time: a backend publishes on tether/<id>/config
// through the virtual broker; the device's real MqttClient receives it, the ConfigChannel
// applies it to the running reporter and answers on tether/<id>/config/result.
import { describe, expect, it } from "vitest";
import { MqttClient } from "../../device/core/mqtt/client";
import { ConfigChannel } from "../../device/core/config/config-channel";
import { CONFIG_CODE, decodeConfigResult, encodeConfigRequest } from "../../device/core/config/telemetry-config";
import { TelemetryReporter } from "../../device/core/telemetry/reporter";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { VirtualWallClock } from "../../host-sim/virtual/wall-clock";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { SeededRandom } from "../../host-sim/virtual/random";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";

describe("telemetry config over MQTT (virtual broker)", () => {
  it("a backend changes the reporting interval; a bad request is refused and changes nothing", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork(clock);
    const broker = new VirtualBroker(network).start();
    const kv = new MemoryKv();
    const log = () => {};
    const results: ReturnType<typeof decodeConfigResult>[] = [];
    const telemetryAt: number[] = [];
    broker.subscribeInternal("tether/d9/config/result", (_t, p) => results.push(decodeConfigResult(p)));
    broker.subscribeInternal("tether/d9/telemetry", (_t, p) => telemetryAt.push(decodeTelemetryBatch(p).madeAtMs));

    let channel: ConfigChannel | undefined = undefined;
    const client = new MqttClient({ clock, network, log }, { clientId: "d9", keepAliveSec: 60, cleanSession: false }, (e) => {
      if (e.type === "connected") channel!.onConnected();
      if (e.type === "message") channel!.onMessage(e.topic, e.payload);
    });
    const reporter = new TelemetryReporter(
      {
        clock,
        wallClock: new VirtualWallClock(clock),
        sensors: new SimSensors(clock, new SeededRandom(5)),
        identity: { deviceId: "d9", firmware: "1", slot: 0, resetReason: "power-on" },
        nextSeq: (() => { let n = 0; return () => n++; })(),
        publish: (bytes) => client.publish("tether/d9/telemetry", bytes, 1),
      },
      { sampleIntervalMs: 60_000, reportIntervalMs: 600_000 },
    );
    channel = new ConfigChannel("d9", client, reporter, kv, log);
    client.connect({ host: "broker", port: 1883 });
    reporter.start();
    clock.advance(1_200_100); // + network latency
    expect(telemetryAt).toEqual([600_000, 1_200_000]);

    broker.publishInternal("tether/d9/config", encodeConfigRequest({ requestId: 1, reportIntervalSec: 2 }), { qos: 1 });
    clock.advance(1_000);
    broker.publishInternal("tether/d9/config", encodeConfigRequest({ requestId: 2, reportIntervalSec: 120 }), { qos: 1 });
    clock.advance(600_100);
    expect(results).toEqual([
      { requestId: 1, code: CONFIG_CODE.outOfRange, error: expect.stringMatching(/reportIntervalSec/), reportIntervalSec: 600, sampleIntervalSec: 60 },
      { requestId: 2, code: CONFIG_CODE.ok, reportIntervalSec: 120, sampleIntervalSec: 60 },
    ]);
    // New cadence from the moment it was applied (~1,201,0xx ms): every 120 s.
    const after = telemetryAt.slice(2);
    expect(after.length).toBe(5);
    for (let i = 1; i < after.length; i++) expect(after[i] - after[i - 1]).toBe(120_000);
    client.disconnect();
  });
});

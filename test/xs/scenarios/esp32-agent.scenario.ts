/**
 * The ESP32 entry point (device/platform/moddable/main.ts) boots the real agent on the Moddable
 * fakes: Wi-Fi comes up, SNTP sets the clock, the agent connects to a broker on the virtual
 * network (reached through DNS and ECMA-419 TCP) and publishes telemetry; then the broker goes
 * away and comes back, and a restart boots the agent again on the same NVS.
 */
import type { ScenarioHost } from "../scenario-host";
import { FakeRestart, FakeWorld, installWorld, uninstallWorld } from "../../fakes/moddable/world";
import { VirtualBroker } from "../../../host-sim/broker/virtual-broker";
import { startDevice } from "../../../device/platform/moddable/main";
import type { AgentEvent } from "../../../device/core/index";
import { decodeTelemetryBatch } from "../../../device/core/telemetry/record";

function line(e: AgentEvent, now: number): string {
  switch (e.type) {
    case "boot":
      return `@${now} boot v${e.version} slot=${e.slot} reset=${e.resetReason}`;
    case "link":
      return `@${now} link ${e.state}`;
    case "telemetry":
      return `@${now} telemetry ${e.topic} bytes=${e.payload.length}`;
    case "error":
      return `@${now} error ${e.message}`;
    default:
      return `@${now} ${e.type}`;
  }
}

export function run(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld({ seed: 7 }));
  Object.assign(w.config, {
    deviceId: "esp-0001",
    broker: "mqtt://broker.lan:1883",
    wifiSsid: "tether-lab",
    wifiPassword: "secret",
    sntp: "pool.ntp.org",
    firmwareVersion: "1.0.0",
    telemetryIntervalMs: 10_000,
    batteryPin: 35,
    batteryFullScaleMv: 6600,
  });
  w.analog.set(35, 2482);
  w.dns.set("broker.lan", "10.0.0.5");
  const broker = new VirtualBroker(w.network, { host: "10.0.0.5", port: 1883 }).start();
  let received = 0;
  broker.subscribeInternal("tether/+/telemetry", (topic, payload) => {
    received++;
    if (received <= 2) host.emit(`@${w.clock.now()} broker got ${topic} ${payload.length} bytes`);
    // The board's heap figures (tether-memory) ride in every batch.
    if (received === 1) host.emit(`memory ${JSON.stringify(decodeTelemetryBatch(payload).memory)}`);
  });

  const boot = (tag: string) => {
    host.emit(`${tag}: boot`);
    return startDevice(w.config, (e) => {
      if (e.type === "battery") return; // battery events are the battery engineer's trace
      host.emit(line(e, w.clock.now()));
    });
  };

  const device = boot("first");
  w.clock.advance(35_000);
  host.emit(`@${w.clock.now()} wifi=${device.wifi.isUp} sntp=${device.sntp.synced} online=${broker.isConnected("esp-0001")} received=${received}`);

  // The broker restarts; the agent reconnects on its own.
  broker.stop();
  w.clock.advance(5_000);
  broker.start();
  w.clock.advance(120_000);
  host.emit(`@${w.clock.now()} after outage online=${broker.isConnected("esp-0001")} received>2=${received > 2}`);

  // A restart (System.restart) stops the program; main runs again on the same NVS and flash.
  try {
    device.ports.system.restart();
  } catch (e) {
    if (!(e instanceof FakeRestart)) throw e;
  }
  const nvsKeys = [...(w.nvs.get("tether")?.keys() ?? [])].sort().join(",");
  const again = boot("second");
  w.clock.advance(35_000);
  host.emit(`@${w.clock.now()} rebooted online=${broker.isConnected("esp-0001")} nvs=${nvsKeys} reset=${again.ports.system.resetReason()}`);
  again.agent.stop();
  uninstallWorld();
}

// Three real device MQTT clients, the virtual broker and a virtual backend on one virtual
// clock: telemetry, a config push, a half-open device whose will fires, and a broker
// restart that loses sessions. Runs in XS and in Node; the traces must be identical.
import { MqttClient, type MqttEvent } from "../../../device/core/mqtt/client";
import { utf8Encode } from "../../../device/core/mqtt/utf8";
import type { Log } from "../../../device/ports";
import { VirtualBroker } from "../../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../../host-sim/virtual/network";
import type { ScenarioHost } from "../../xs/scenario-host";

const TARGET = { host: "broker", port: 1883 };
const RECONNECT_MS = 2000;

function str(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

export function run(host: ScenarioHost): void {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  const broker = new VirtualBroker(net).start();
  const t = () => `t=${clock.now()}`;
  broker.onEvent = (e) => host.emit(`${t()} broker ${e.type} ${e.clientId}${e.type === "connected" ? ` sp=${e.sessionPresent}` : ""}${e.type === "disconnected" ? ` (${e.reason}) will=${e.willSent}` : ""}`);
  broker.subscribeInternal("tether/+/telemetry", (topic, p, qos) => host.emit(`${t()} backend ${topic} ${str(p)} q${qos}`));
  broker.subscribeInternal("tether/+/status", (topic, p, _q, retain) => host.emit(`${t()} backend ${topic} ${str(p)} r=${retain}`));

  const log: Log = () => {};
  /** Devices whose power is off: no reconnects. */
  const off = new Set<string>();
  const devices = ["d1", "d2", "d3"].map((id) => {
    const status = `tether/${id}/status`;
    let client: MqttClient;
    const onEvent = (e: MqttEvent) => {
      if (e.type === "connected") {
        host.emit(`${t()} ${id} connected sp=${e.sessionPresent}`);
        client.publish(status, utf8Encode("online"), 1, true);
      } else if (e.type === "closed") {
        host.emit(`${t()} ${id} closed: ${e.reason}`);
        if (!off.has(id)) clock.setTimeout(() => client.connect(TARGET), RECONNECT_MS);
      } else if (e.type === "message") {
        host.emit(`${t()} ${id} got ${e.topic} ${str(e.payload)} q${e.qos}`);
      } else if (e.type === "subscribed") {
        host.emit(`${t()} ${id} subscribed ${e.topics.join(",")} ${e.returnCodes.join(",")}`);
      }
    };
    client = new MqttClient(
      { clock, network: net, log },
      { clientId: id, keepAliveSec: 20, cleanSession: false, will: { topic: status, payload: utf8Encode("offline"), qos: 1, retain: true } },
      onEvent,
    );
    client.subscribe([{ topic: `tether/${id}/config`, qos: 1 }]);
    return { id, client };
  });

  for (const d of devices) d.client.connect(TARGET);
  clock.advance(100);
  for (let i = 0; i < 3; i++) {
    for (const d of devices) d.client.publish(`tether/${d.id}/telemetry`, utf8Encode(`n${i}`), 1);
    clock.advance(10_000);
  }
  broker.publishInternal("tether/d2/config", utf8Encode("rate=30"), { qos: 1 });
  clock.advance(100);

  // d3 loses power: its link goes silent with no FIN, so the broker hears nothing until
  // keep-alive (1.5 x 20 s) runs out, then publishes d3's retained "offline" will.
  off.add("d3");
  const d3link = net.openLinks().find((l) => l.id === 3);
  if (d3link !== undefined) d3link.blackholed = true;
  clock.advance(40_000);
  const will = broker.retainedMessage("tether/d3/status");
  host.emit(`${t()} retained d3 status ${will ? str(will.payload) : "none"}`);

  // The broker restarts and forgets every session; clients come back and resubscribe.
  broker.restart({ loseSessions: true });
  clock.advance(10_000);
  broker.publishInternal("tether/d1/config", utf8Encode("after-restart"), { qos: 1 });
  clock.advance(1000);
  // d3 powers up again: its session and its retained status went with the restart.
  off.delete("d3");
  devices[2].client.connect(TARGET);
  clock.advance(1000);

  const s = broker.stats;
  host.emit(`stats connects=${s.connects} connected=${s.connected} published=${s.published} delivered=${s.delivered} wills=${s.willsPublished} expiries=${s.keepAliveExpiries} in=${s.bytesIn} out=${s.bytesOut}`);
  host.emit(`telemetry d1=${broker.publishCount("tether/d1/telemetry")} sessions=${broker.sessionCount} retained=${broker.retainedCount}`);
}

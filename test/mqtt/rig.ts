/** A virtual device + the virtual broker on one virtual clock, for client fault tests. */
import { MqttClient, type MqttClientOptions, type MqttEvent } from "../../device/core/mqtt/client";
import type { Log } from "../../device/ports";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { VirtualBroker, type VirtualBrokerOptions } from "../../host-sim/broker/virtual-broker";
import { recordReceived } from "./received";

export const TARGET = { host: "broker", port: 1883 };
const enc = new TextEncoder();
export const bytes = (s: string) => enc.encode(s);
export const text = (b: Uint8Array) => new TextDecoder().decode(b);

export function makeRig(kvCapacity = 24 * 1024, brokerOptions: VirtualBrokerOptions = {}) {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  const broker = new VirtualBroker(net, { host: TARGET.host, port: TARGET.port, ...brokerOptions }).start();
  /** Every PUBLISH the broker got from a client, in arrival order (DUPs included). */
  const received = recordReceived(broker);
  const kv = new MemoryKv(kvCapacity);
  const logs: string[] = [];
  const log: Log = (level, message) => logs.push(`${level} ${message}`);
  return { clock, net, broker, received, kv, logs, log };
}

export type Rig = ReturnType<typeof makeRig>;

export function makeClient(rig: Rig, options: Partial<MqttClientOptions> = {}) {
  const events: MqttEvent[] = [];
  const client = new MqttClient(
    { clock: rig.clock, network: rig.net, log: rig.log },
    { clientId: "dev1", keepAliveSec: 30, cleanSession: false, ...options },
    (e) => events.push(e),
  );
  const of = <T extends MqttEvent["type"]>(t: T) => events.filter((e) => e.type === t) as Extract<MqttEvent, { type: T }>[];
  return { client, events, of };
}

/**
 * Broker cost at fleet scale (a benchmark, not a test; bench format: default export
 * returning numbers). N raw clients on the virtual network connect with a will, subscribe
 * to their config topic, then publish pre-framed QoS 1 telemetry every 60 s of virtual
 * time to a backend subscribed internally; the clients only count PUBACK bytes, so the
 * wall time is the broker + virtual network share of a `tether sim --broker virtual` run.
 *
 *   npm run bench -- broker                                  10,000 clients × 60 simulated minutes
 *   BROKER_DEVICES=2000 BROKER_MINUTES=30 npm run bench -- broker
 */
import { encodeConnect, encodePublish, encodeSubscribe } from "../device/core/mqtt/codec";
import { VirtualBroker } from "../host-sim/broker/virtual-broker";
import { VirtualClock } from "../host-sim/virtual/clock";
import { VirtualNetwork, type VirtualSocket } from "../host-sim/virtual/network";

const PERIOD_MS = 60_000;

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

export default async function measure(devices = env("BROKER_DEVICES", 10_000), minutes = env("BROKER_MINUTES", 60)) {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  const heap0 = heapUsed();
  const broker = new VirtualBroker(net).start();
  let telemetry = 0;
  broker.subscribeInternal("tether/+/telemetry", () => {
    telemetry++;
  });
  let acks = 0;
  const sockets: VirtualSocket[] = [];
  const payload = new Uint8Array(48).fill(7); // about a CBOR telemetry record
  const frames: Uint8Array[] = [];
  for (let i = 0; i < devices; i++) {
    const id = `dev${i}`;
    const s = net.connect({ host: "broker", port: 1883 }, {
      onConnect() {},
      onData(b) {
        acks += b.length;
      },
      onClose() {},
    }) as VirtualSocket;
    sockets.push(s);
    frames.push(encodePublish({ topic: `tether/${id}/telemetry`, payload, qos: 1, packetId: 1 }));
    clock.setTimeout(() => {
      s.write(encodeConnect({ clientId: id, keepAlive: 120, cleanSession: false, will: { topic: `tether/${id}/status`, payload: Uint8Array.of(0), qos: 1, retain: true } }));
      s.write(encodeSubscribe(1, [{ topic: `tether/${id}/config`, qos: 1 }]));
    }, 20);
  }
  clock.advance(1000);
  const heapIdle = heapUsed();
  const connected = broker.stats.connected;

  // Telemetry: each device on its own phase within the period, like a real fleet.
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < devices; i++) {
    const s = sockets[i];
    const frame = frames[i];
    const tick = () => {
      s.write(frame);
      clock.setTimeout(tick, PERIOD_MS);
    };
    clock.setTimeout(tick, Math.floor((i * PERIOD_MS) / devices));
  }
  clock.advance(minutes * PERIOD_MS);
  const wall = (performance.now() - t0) / 1000;
  const cpuUs = process.cpuUsage(cpu0);
  const cpu = (cpuUs.user + cpuUs.system) / 1e6;
  const msgs = broker.stats.published;
  return {
    devices,
    connected,
    simulatedMinutes: minutes,
    messages: msgs,
    telemetryDelivered: telemetry,
    pubackBytes: acks,
    wallSeconds: Number(wall.toFixed(3)),
    messagesPerSecond: Math.round(msgs / wall),
    cpuSeconds: Number(cpu.toFixed(3)),
    cpuMicrosPerMessage: Number(((cpu * 1e6) / msgs).toFixed(2)),
    heapPerConnectedDeviceBytes: Math.round((heapIdle - heap0) / devices),
    note: "broker + virtual network + minimal raw clients; heap per device includes both link ends",
  };
}

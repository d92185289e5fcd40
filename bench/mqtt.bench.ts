/**
 * MQTT benches: our client vs mqtt.js (the `mqtt` npm package), same run, same Mosquitto on
 * loopback: QoS 1 publish throughput (window of 100 in flight, until all PUBACKed) and retained
 * heap per idle connection; reported as ratios (ours / mqtt.js). Plus the XS computron cost to
 * encode and parse a telemetry PUBLISH.
 *
 * Our client runs on the Node adapters and, as on the device, persists every QoS 1 message in
 * the KV port (an in-memory KV here) until its PUBACK; mqtt.js keeps its in-memory store.
 */
import mqtt from "mqtt";
import { MqttClient } from "../device/core/mqtt/client";
import { NodeClock } from "../device/platform/node/clock";
import { nodeNetwork } from "../device/platform/node/network";
import { startMosquitto } from "../test/helpers/mosquitto";
import { xsComputrons } from "./lib/measure";
import { BENCH_TOPIC, telemetryPayload } from "../test/mqtt/bench-payload";

const MESSAGES = 20_000;
const WINDOW = 100;
const CONNECTIONS = 200;
const ROUNDS = 3;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error("run through `npm run bench` (node --expose-gc)");
  g();
  g();
}
const heap = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

async function oursThroughput(port: number, payload: Uint8Array, round: number): Promise<number> {
  const clock = new NodeClock();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    let t0 = 0;
    const client = new MqttClient(
      { clock, network: nodeNetwork, log: () => {} },
      { clientId: `ours-tp-${round}`, keepAliveSec: 60, cleanSession: true },
      (e) => {
        if (e.type === "connected") {
          t0 = performance.now();
          for (; sent < WINDOW; sent++) client.publish(BENCH_TOPIC, payload, 1);
        } else if (e.type === "acked") {
          acked++;
          if (sent < MESSAGES) {
            client.publish(BENCH_TOPIC, payload, 1);
            sent++;
          } else if (acked === MESSAGES) {
            const ms = performance.now() - t0;
            client.disconnect();
            clock.clearAll();
            resolve((MESSAGES * 1000) / ms);
          }
        } else if (e.type === "closed" && acked < MESSAGES) reject(new Error(`ours closed: ${e.reason}`));
      },
    );
    client.connect({ host: "127.0.0.1", port });
  });
}

async function mqttjsThroughput(port: number, payload: Uint8Array, round: number): Promise<number> {
  const buf = Buffer.from(payload);
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `mqttjs-tp-${round}`, clean: true, keepalive: 60, reconnectPeriod: 0 });
  await new Promise<void>((r, j) => {
    c.once("connect", () => r());
    c.once("error", j);
  });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const one = () => {
      sent++;
      c.publish(BENCH_TOPIC, buf, { qos: 1 }, (err) => {
        if (err) return reject(err);
        acked++;
        if (sent < MESSAGES) one();
        else if (acked === MESSAGES) resolve();
      });
    };
    for (let i = 0; i < WINDOW; i++) one();
  });
  const rate = (MESSAGES * 1000) / (performance.now() - t0);
  await c.endAsync();
  return rate;
}

async function oursMemory(port: number): Promise<number> {
  const clock = new NodeClock();
  const clients: MqttClient[] = [];
  gc();
  const before = heap();
  let up = 0;
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < CONNECTIONS; i++) {
      const c = new MqttClient(
        { clock, network: nodeNetwork, log: () => {} },
        { clientId: `ours-mem-${i}`, keepAliveSec: 60, cleanSession: true },
        (e) => {
          if (e.type === "connected" && ++up === CONNECTIONS) resolve();
          if (e.type === "closed") reject(new Error(e.reason));
        },
      );
      clients.push(c);
      c.connect({ host: "127.0.0.1", port });
    }
  });
  gc();
  const per = (heap() - before) / CONNECTIONS;
  for (const c of clients) c.disconnect();
  clock.clearAll();
  return per;
}

async function mqttjsMemory(port: number): Promise<number> {
  gc();
  const before = heap();
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `mqttjs-mem-${i}`, clean: true, keepalive: 60, reconnectPeriod: 0 });
      return new Promise<typeof c>((r, j) => {
        c.once("connect", () => r(c));
        c.once("error", j);
      });
    }),
  );
  gc();
  const per = (heap() - before) / CONNECTIONS;
  await Promise.all(clients.map((c) => c.endAsync()));
  return per;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export default async () => {
  const broker = await startMosquitto({ config: ["max_connections -1", "max_inflight_messages 0", "max_queued_messages 100000"] });
  try {
    const payload = telemetryPayload(1);
    const ours: number[] = [];
    const theirs: number[] = [];
    // Interleaved rounds, so drift on a shared machine hits both alike.
    for (let r = 0; r < ROUNDS; r++) {
      ours.push(await oursThroughput(broker.port, payload, r));
      theirs.push(await mqttjsThroughput(broker.port, payload, r));
    }
    const oursMem = await oursMemory(broker.port);
    const theirMem = await mqttjsMemory(broker.port);
    const xs = await xsComputrons(new URL("../test/xs/scenarios/link-codec-cost.scenario.ts", import.meta.url));
    return {
      setup: { broker: "mosquitto (Debian) on loopback", messages: MESSAGES, window: WINDOW, payloadBytes: payload.length, rounds: ROUNDS, connections: CONNECTIONS },
      throughput: {
        oursMsgPerSec: Math.round(median(ours)),
        mqttjsMsgPerSec: Math.round(median(theirs)),
        ratioOursOverMqttjs: Number((median(ours) / median(theirs)).toFixed(2)),
      },
      memoryPerConnection: {
        oursBytes: Math.round(oursMem),
        mqttjsBytes: Math.round(theirMem),
        ratioOursOverMqttjs: Number((oursMem / theirMem).toFixed(2)),
      },
      xsTelemetryPublish: xs.metrics,
    };
  } finally {
    await broker.stop();
  }
};

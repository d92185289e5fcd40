/**
 * A 3-node NATS cluster on loopback (Debian's nats-server 2.9): JetStream on every node,
 * routes between them, and an MQTT 3.1.1 listener per node whose session and message
 * streams are replicated 3 ways, so losing one node loses no QoS 1 state. Started by the test
 * itself on free ports; nothing depends on a server already running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MqttClient } from "../../device/core/mqtt/client";
import { NodeClock } from "../../device/platform/node/clock";
import { nodeNetwork } from "../../device/platform/node/network";
import { freePort } from "../helpers/mosquitto";

export const NATS_BIN = process.env.NATS_BIN ?? "/usr/sbin/nats-server";
const START_TIMEOUT_MS = 20_000;
const MQTT_READY_RETRY_MS = 250;

export interface NatsNode {
  name: string;
  clientPort: number;
  clusterPort: number;
  mqttPort: number;
  proc: ChildProcess | undefined;
  log: string;
}

export interface NatsCluster {
  nodes: NatsNode[];
  mqttUrls: string[];
  /** SIGKILL one node (a crash, not a shutdown). */
  kill(i: number): void;
  stop(): Promise<void>;
}

function config(dir: string, n: NatsNode, all: NatsNode[]): string {
  const routes = all.map((o) => `nats-route://127.0.0.1:${o.clusterPort}`).join(", ");
  return [
    `server_name: ${n.name}`,
    `listen: 127.0.0.1:${n.clientPort}`,
    `jetstream { store_dir: "${path.join(dir, n.name)}", max_memory_store: 64MB, max_file_store: 512MB }`,
    `cluster { name: tether, listen: 127.0.0.1:${n.clusterPort}, routes: [ ${routes} ] }`,
    // Replicate MQTT sessions, retained messages and QoS 1 messages on all three nodes. ack_wait:
    // a QoS 1 message delivered but not PUBACKed (its subscriber's node died) is redelivered after
    // this; NATS's default is 30 s, longer than the test's drain.
    `mqtt { listen: 127.0.0.1:${n.mqttPort}, stream_replicas: 3, ack_wait: "3s" }`,
    "",
  ].join("\n");
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  if (!fs.existsSync(NATS_BIN)) throw new Error(`${NATS_BIN} is missing: run scripts/ensure-debian-packages.sh (Debian package nats-server)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-nats-"));
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    nodes.push({ name: `n${i + 1}`, clientPort: await freePort(), clusterPort: await freePort(), mqttPort: await freePort(), proc: undefined, log: "" });
  }
  const ready = nodes.map(
    (n) =>
      new Promise<void>((resolve, reject) => {
        const file = path.join(dir, `${n.name}.conf`);
        fs.writeFileSync(file, config(dir, n, nodes));
        const trace = process.env.TETHER_NATS_TRACE;
        const proc = spawn(NATS_BIN, trace ? ["-c", file, "-DV"] : ["-c", file], { stdio: ["ignore", "pipe", "pipe"] });
        const traceFile = trace ? fs.createWriteStream(path.join(trace, `${n.name}.log`)) : undefined;
        n.proc = proc;
        const timer = setTimeout(() => reject(new Error(`nats ${n.name} did not start:\n${n.log}`)), START_TIMEOUT_MS);
        const onData = (chunk: Buffer) => {
          traceFile?.write(chunk);
          const text = chunk.toString();
          n.log += traceFile ? text.split("\n").filter((l) => !/\[(TRC|DBG)\]/.test(l)).join("\n") : text;
          if (/Listening for MQTT clients/.test(n.log) && /Server is ready/.test(n.log)) {
            clearTimeout(timer);
            resolve();
          }
        };
        proc.stdout!.on("data", onData);
        proc.stderr!.on("data", onData);
        proc.on("exit", (code) => {
          clearTimeout(timer);
          if (n.proc === proc) n.proc = undefined;
          reject(new Error(`nats ${n.name} exited (${code}):\n${n.log}`));
        });
      }),
  );
  await Promise.all(ready);
  // MQTT needs the JetStream cluster to have a metadata leader before it serves sessions.
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!nodes.some((n) => /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(n.log))) {
    if (Date.now() > deadline) throw new Error(`nats cluster has no JetStream leader:\n${nodes.map((n) => n.log).join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Every node's MQTT gateway must have served a client before a test kills one: see mqttReady.
  for (const n of nodes) await mqttReady(n, deadline + START_TIMEOUT_MS);
  const kill = (i: number) => {
    const p = nodes[i].proc;
    nodes[i].proc = undefined;
    p?.kill("SIGKILL");
  };
  return {
    nodes,
    mqttUrls: nodes.map((n) => `mqtt://127.0.0.1:${n.mqttPort}`),
    kill,
    stop: async () => {
      const exits = nodes.filter((n) => n.proc).map((n) => new Promise<void>((r) => n.proc!.once("exit", () => r())));
      for (let i = 0; i < nodes.length; i++) kill(i);
      await Promise.all(exits);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Resolves once the node's MQTT gateway has answered a CONNECT with CONNACK (one clean-session
 * client, then DISCONNECT). nats-server 2.9 creates a node's MQTT session manager for an account
 * at that node's first MQTT CONNECT (server/mqtt.go getOrCreateMQTTAccountSessionManager), holding
 * a server-wide lock through JetStream API requests that each time out after 4 s
 * (mqttJSAPITimeout). A node that first sees MQTT clients just after another node died runs those
 * requests while the streams elect new leaders: every CONNECT queues behind the lock and fails
 * one after another, 4 s apart, for as long as the elections take (seen: 12 such failures over
 * 28 s under load, devices offline up to 46 s, longer than their outbox holds at one record a
 * second). A cluster in service has served MQTT on every node before one fails, so the tests
 * start from there.
 */
function mqttReady(n: NatsNode, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const clock = new NodeClock();
    let done = false;
    let last = "";
    const client = new MqttClient(
      { clock, network: nodeNetwork, log: () => {} },
      { clientId: `tether-ready-${n.name}`, keepAliveSec: 10, cleanSession: true },
      (e) => {
        if (e.type === "connected") {
          done = true;
          client.disconnect();
          clock.clearAll();
          resolve();
        } else if (e.type === "refused") last = `refused: ${e.reason}`;
        else if (e.type === "closed" && !done) {
          last ||= e.reason;
          if (Date.now() > deadline) {
            clock.clearAll();
            reject(new Error(`nats ${n.name}: MQTT gateway never answered a CONNECT (${last}):\n${n.log}`));
          } else clock.setTimeout(() => client.connect({ host: "127.0.0.1", port: n.mqttPort }), MQTT_READY_RETRY_MS);
        }
      },
    );
    client.connect({ host: "127.0.0.1", port: n.mqttPort });
  });
}

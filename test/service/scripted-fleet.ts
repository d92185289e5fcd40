/**
 * Scripted devices for rollout tests against real brokers: each one speaks the device protocol
 * (retained online status, telemetry, OTA status as LwM2M Object 5 codes) through its own MQTT
 * connection (mqtt.js), and answers an offer as its script says: succeed, roll back (105 with a
 * cause), report an interrupted trial (109), or stay silent. The real agent's OTA behaviour is
 * tested in test/integration and test/ota; here the service is under test.
 */
import mqtt, { type MqttClient } from "mqtt";
import { parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { versionString } from "../../device/core/ota/version";
import { createBundle, keyPairFromSeed } from "../../tools/ota/bundle";
import { writeBundle } from "../../tools/ota/bundle-files";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { otaStatus, telemetry } from "./helpers";

/** "ambiguous": rejects with 105 cause 6 (unknown) and succeeds once offered with the retry marker. */
export type Script = "succeed" | "rollback" | "silent" | "ambiguous" | { interrupted: number };

export interface ScriptedDevice {
  id: string;
  script: Script;
  running: number;
  offers: number[];
  /** Offers that carried the retry marker (envelope key 4). */
  markedOffers: number[];
  client: MqttClient;
}

const SEED = new Uint8Array(32).fill(7);

/** Writes a signed bundle (tiny payload) for `version` into `dir`. */
export function makeBundle(dir: string, version: number, counter = 1): string {
  const { secretKey } = keyPairFromSeed(SEED);
  const b = createBundle(new TextEncoder().encode(`firmware ${version}`.padEnd(1500, ".")), { version, hardwareId: "tether-devkit", securityCounter: counter, blockSize: 1024 }, secretKey, nodeSha256);
  writeBundle(dir, b);
  return dir;
}

export async function startDevice(url: string, id: string, running: number, script: Script, options: { battery?: number; reportMs?: number; password?: string } = {}): Promise<ScriptedDevice & { stop(): Promise<void>; seq: number }> {
  const client = await mqtt.connectAsync(url, {
    clientId: id, protocolVersion: 4, clean: true, reconnectPeriod: 200, resubscribe: false,
    ...(options.password !== undefined ? { username: id, password: options.password } : {}),
    will: { topic: `tether/${id}/status`, payload: Buffer.from("offline"), qos: 1, retain: true },
  });
  const dev = { id, script, running, offers: [] as number[], markedOffers: [] as number[], client, seq: 0, stop: async () => {} };
  let interruptions = 0;
  const handled = new Set<number>();
  const send = (topic: string, payload: Uint8Array | string, retain = false) => client.publish(topic, Buffer.from(payload), { qos: 1, retain });
  const report = () => {
    dev.seq++;
    send(`tether/${id}/telemetry`, telemetry(id, dev.seq, { firmware: versionString(dev.running), battery: { mv: 3900, pct: options.battery ?? 80, status: 0 } }));
  };
  const status = (s: Parameters<typeof otaStatus>[0]) => send(`tether/${id}/ota/status`, otaStatus(s), true);
  await client.publishAsync(`tether/${id}/status`, Buffer.from("online"), { qos: 1, retain: true });
  report();
  const timer = setInterval(report, options.reportMs ?? 500);
  client.on("message", (_topic, payload) => {
    if (payload.length === 0) return; // withdrawn
    const envelope = parseEnvelope(new Uint8Array(payload));
    const version = parseManifest(envelope.manifestBytes).version;
    const lift = dev.script === "ambiguous" && envelope.retryAmbiguous === true && !dev.markedOffers.includes(version);
    if (version <= dev.running || (handled.has(version) && !lift)) return; // the same offer again (a republish): already on it
    handled.add(version);
    dev.offers.push(version);
    if (envelope.retryAmbiguous) dev.markedOffers.push(version);
    if (dev.script === "silent") return;
    status({ state: 1, result: 0, version, received: 0, total: 2, running: dev.running });
    setTimeout(() => {
      const s = dev.script;
      if (s === "succeed") {
        dev.running = version;
        status({ state: 0, result: 1, version, running: version });
        report();
      } else if (s === "ambiguous") {
        if (lift) {
          dev.running = version;
          status({ state: 0, result: 1, version, running: version });
          report();
        } else status({ state: 0, result: 105, version, running: dev.running, cause: 6 });
      } else if (s === "rollback") {
        status({ state: 0, result: 105, version, running: dev.running, cause: 3 });
      } else if (typeof s === "object") {
        if (interruptions < s.interrupted) {
          interruptions++;
          status({ state: 0, result: 109, version, running: dev.running, cause: 1, attempt: interruptions });
          // The device tries the retained offer again by itself.
          setTimeout(() => {
            handled.delete(version);
            dev.offers.pop();
            client.emit("message", "", payload, {} as never);
          }, 100);
        } else {
          dev.running = version;
          status({ state: 0, result: 1, version, running: version });
        }
      }
    }, 50);
  });
  // Like the agent (device/core/mqtt/client.ts), a refused subscription is asked for again with a
  // doubling delay, on every connection: nats-server answers SUBACK 0x80 while its JetStream
  // cluster cannot create the consumer (under load, or for seconds after losing a node), and
  // mqtt.js then forgets the topic for good (it does not resubscribe it on a reconnect either).
  let subscribing = false;
  let stopped = false;
  const subscribe = async () => {
    if (subscribing) return;
    subscribing = true;
    try {
      for (let delay = 2_000; !stopped && client.connected; delay = Math.min(delay * 2, 120_000)) {
        try {
          await client.subscribeAsync(`tether/${id}/ota/manifest`, { qos: 1 });
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    } finally {
      subscribing = false;
    }
  };
  client.on("connect", () => void subscribe());
  await subscribe();
  dev.stop = async () => {
    stopped = true;
    clearInterval(timer);
    await client.endAsync();
  };
  return dev;
}

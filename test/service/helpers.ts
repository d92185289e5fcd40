/** Shared pieces of the fleet-service tests: telemetry payloads, a device publisher, waiting. */
import mqtt from "mqtt";
import { afterAll, beforeAll } from "vitest";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../host-sim/brokers/embedded";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { encodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";
import { encodeStatus, type OtaStatus } from "../../device/core/ota/status";

export function telemetry(deviceId: string, seq: number, over: Partial<TelemetryBatch> = {}): Uint8Array {
  const t = 1_790_000_000_000 + seq * 60_000;
  return encodeTelemetryBatch({
    deviceId,
    seq,
    firmware: "1.2.0",
    slot: 0,
    resetReason: "power-on",
    timeBase: "wall",
    madeAtMs: t,
    uptimeMs: 60_000 * (seq + 1),
    link: { state: "online", reconnects: 0 },
    battery: { mv: 3900, pct: 80, status: 0 },
    samples: [{ tMs: t, temperatureCentiC: 2100, rssiDbm: -60 }],
    ...over,
  });
}

export function otaStatus(s: OtaStatus): Uint8Array {
  return encodeStatus(s);
}

/** A plain MQTT publisher standing in for devices (mqtt.js: an independent implementation). */
export async function publisher(url: string, clientId = `pub-${process.pid}-${Math.random().toString(36).slice(2)}`) {
  const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 4, reconnectPeriod: 0 });
  return {
    client,
    send: (topic: string, payload: Uint8Array | string, retain = false) => client.publishAsync(topic, Buffer.from(payload), { qos: 1, retain }),
    close: () => client.endAsync(),
  };
}

export async function waitUntil(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts aedes (in-process) and Debian's Mosquitto around the calling file's tests; each by name and URL. */
export function realBrokers(): { name: string; url: () => string }[] {
  let aedes: EmbeddedBroker;
  let mosquitto: Mosquitto;
  beforeAll(async () => {
    aedes = await startEmbeddedBroker();
    mosquitto = await startMosquitto();
  });
  afterAll(async () => {
    await aedes?.close();
    await mosquitto?.stop();
  });
  return [
    { name: "aedes", url: () => aedes.url },
    { name: "mosquitto", url: () => `mqtt://127.0.0.1:${mosquitto.port}` },
  ];
}

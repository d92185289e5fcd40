/**
 * OTA over MQTT: the thin wiring between the MQTT client and the OTA state machine.
 * Subscribes to the retained manifest; turns block wants into subscriptions to the retained
 * block topics (a subscription is what makes the broker send a retained block, so resuming
 * means subscribing again to what is missing); publishes status retained.
 */
import type { QoS } from "../mqtt/client";
import type { OtaHost, OtaUpdater } from "./updater";
import { encodeStatus, type OtaStatus } from "./status";
import { otaTopics } from "./topics";
import { rethrowHalt } from "../../ports";

/** The part of MqttClient this needs. */
export interface OtaMqttClient {
  publish(topic: string, payload: Uint8Array, qos: QoS, retain?: boolean, persist?: boolean): number;
  subscribe(topics: { topic: string; qos: QoS }[]): void;
  unsubscribe(topics: string[]): void;
}

export type OtaMqttEvent =
  | { type: "connected" }
  | { type: "closed" }
  | { type: "message"; topic: string; payload: Uint8Array }
  | { type: string };

/** Block numbers are short decimals: anything else on a block topic is ignored. */
/** A block topic's last level: a decimal index without leading zeros (regex made per call: see isDeviceId). */
function isBlockIndex(n: string): boolean {
  return /^(0|[1-9][0-9]{0,5})$/.test(n);
}

export class OtaMqttLink implements OtaHost {
  private ota: OtaUpdater | undefined;
  private readonly topics;
  private connected = false;
  /** The newest status: the topic is retained, so only the latest one matters to a backend. */
  private last: OtaStatus | undefined;

  constructor(
    private readonly client: OtaMqttClient,
    deviceId: string,
    private readonly onStatus?: (s: OtaStatus) => void,
  ) {
    this.topics = otaTopics(deviceId);
  }

  attach(ota: OtaUpdater): void {
    this.ota = ota;
    this.client.subscribe([{ topic: this.topics.manifest, qos: 1 }]);
  }

  /** Feed every MQTT client event here. Returns true when the event was an OTA message. */
  onMqttEvent(e: OtaMqttEvent): boolean {
    const ota = this.ota;
    if (!ota) return false;
    if (e.type === "connected") {
      this.connected = true;
      if (this.last) this.send(this.last);
      ota.noteConnected();
      ota.resume();
      return false;
    }
    if (e.type === "closed") {
      this.connected = false;
      ota.noteDisconnected();
      return false;
    }
    if (e.type !== "message" || !("topic" in e)) return false;
    const { topic, payload } = e as { topic: string; payload: Uint8Array };
    if (topic === this.topics.manifest) {
      ota.offer(payload);
      return true;
    }
    if (topic.startsWith(this.topics.blockPrefix)) {
      const n = topic.slice(this.topics.blockPrefix.length);
      if (isBlockIndex(n)) ota.block(Number(n), payload);
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- OtaHost
  status(s: OtaStatus): void {
    // Sent only while connected, and never stored: offline, only the newest is kept (in RAM) and
    // sent on the next connect. Statuses made while offline (a deferred offer re-checked every
    // minute) must not fill the key-value store, and after a reboot the updater reports afresh.
    this.last = s;
    this.onStatus?.(s);
    if (this.connected) this.send(s);
  }

  private send(s: OtaStatus): void {
    try {
      this.client.publish(this.topics.status, encodeStatus(s), 1, true, false);
    } catch (e) {
      rethrowHalt(e);
      // Never into the updater: the next connect sends the newest status again.
      this.connected = false;
    }
  }

  want(blocks: number[]): void {
    this.client.subscribe(blocks.map((n) => ({ topic: this.topics.block(n), qos: 1 as QoS })));
  }

  release(blocks: number[]): void {
    this.client.unsubscribe(blocks.map((n) => this.topics.block(n)));
  }
}

/**
 * OTA over MQTT: the thin wiring between the MQTT client and the OTA state machine.
 * Subscribes to the retained manifest on its own topic; turns block wants into subscriptions to
 * the retained blocks shared by every device, under the SHA-256 of the image being downloaded
 * (tether/ota/image/<hex>/block/<n>: one copy per image on the broker). A subscription is what
 * makes the broker send a retained block, so resuming means subscribing again to what is
 * missing. Anyone who can publish there gains nothing: every block is checked against the
 * signed manifest's per-block hash. Publishes status retained.
 */
import type { QoS } from "../mqtt/client";
import type { OtaHost, OtaUpdater } from "./updater";
import { encodeStatus, type OtaStatus } from "./status";
import { imageBlockTopic, otaTopics, parseImageBlockTopic } from "./topics";
import { toHex } from "./bytes";
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
  /** Block index → the shared topic subscribed for it (released by the same topic, even after the job is gone). */
  private readonly subscribed = new Map<number, string>();
  /** imageHex's cache: the hash it was made from and its hex. */
  private hexOf: Uint8Array | undefined;
  private hex = "";

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
    const shared = parseImageBlockTopic(topic);
    if (shared) {
      // Only blocks of the image being downloaded: a block of another image could never match its hash.
      if (isBlockIndex(shared.index) && shared.imageHex === this.imageHex()) ota.block(Number(shared.index), payload);
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
    const hex = this.imageHex();
    if (hex === undefined || blocks.length === 0) return;
    const topics = blocks.map((n) => {
      const topic = imageBlockTopic(hex, n);
      this.subscribed.set(n, topic);
      return { topic, qos: 1 as QoS };
    });
    this.client.subscribe(topics);
  }

  release(blocks: number[]): void {
    const topics: string[] = [];
    for (const n of blocks) {
      const topic = this.subscribed.get(n);
      if (topic === undefined) continue;
      this.subscribed.delete(n);
      topics.push(topic);
    }
    if (topics.length > 0) this.client.unsubscribe(topics);
  }

  /** The SHA-256 (hex) of the image the updater is downloading, from its verified manifest. */
  private imageHex(): string | undefined {
    const image = this.ota?.downloadImage();
    if (image === undefined) return undefined;
    if (image !== this.hexOf) (this.hexOf = image), (this.hex = toHex(image));
    return this.hex;
  }
}

/**
 * The service's MQTT 3.1.1 client over a Node socket, built on the project's own codec and
 * parser (device/core/mqtt). Why not the device client or mqtt.js: the service must hold each
 * PUBACK until the batch that carries the message is committed to SQLite, and must commit many
 * messages per transaction. mqtt.js acknowledges one message at a time (its handleMessage hook
 * blocks the next packet until the callback), so batching and "acknowledged = stored" cannot
 * both hold there.
 *
 * Persistent session (clean session 0, fixed client id), so messages that arrived while the
 * service was down or unacknowledged at a crash are delivered again on reconnect. Own QoS 1
 * publishes are resent with DUP after a reconnect until acknowledged. Reconnects with full
 * jitter backoff.
 */
import net from "node:net";
import tls from "node:tls";
import fs from "node:fs";
import {
  CONNACK_REASONS, encodeConnect, encodeDisconnect, encodePingreq, encodePuback, encodePublish, encodeSubscribe,
  type Packet, type PublishPacket,
} from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import { utf8Encode } from "../../device/core/mqtt/utf8";
import { parseBrokerUrl } from "../../device/core/util/broker-url";
import type { BatchHandler, InboundMessage, PublishOptions, ServiceTransport } from "./transport";

export const DEFAULT_KEEPALIVE_SEC = 30;
const CONNECT_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** First delay before a refused subscription is asked for again (doubled per refusal in a row). */
const RESUBSCRIBE_MS = 2_000;
/** The service receives firmware manifests' statuses and telemetry: bounded, but larger than a device's limit. */
const MAX_INCOMING_PACKET = 1024 * 1024;
const MAX_PACKET_ID = 0xffff;

export interface MqttSocketOptions {
  /** One broker URL, or several (a cluster): each reconnect tries the next one. */
  url: string | string[];
  clientId: string;
  /** CA certificate file for mqtts://. */
  caFile?: string;
  username?: string;
  password?: string;
  keepAliveSec?: number;
  log?: (line: string) => void;
}

interface Outgoing {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class MqttSocketTransport implements ServiceTransport {
  private handler: BatchHandler = () => {};
  private socket: net.Socket | undefined;
  private parser: MqttParser | undefined;
  private filters: string[] = [];
  private up = false;
  private closed = false;
  private attempt = 0;
  private nextId = 1;
  private readonly outgoing = new Map<number, Outgoing>();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private awaitingPong = false;
  private firstSubscribed: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private subscribeId = -1;
  /** Topics a live (not retained) message came on over this connection. */
  private readonly liveTopics = new Set<string>();
  private subscribeRefusals = 0;
  private readonly log: (line: string) => void;
  /** Packets parsed from the current chunk. */
  private pending: Packet[] = [];
  private readonly urls: string[];
  private urlIndex = 0;

  constructor(private readonly options: MqttSocketOptions) {
    this.log = options.log ?? (() => {});
    this.urls = Array.isArray(options.url) ? options.url : [options.url];
    if (this.urls.length === 0) throw new Error("mqtt: no broker URL");
    for (const u of this.urls) parseBrokerUrl(u); // validates early: a bad URL is a usage error, not a reconnect loop
  }

  onBatch(handler: BatchHandler): void {
    this.handler = handler;
  }

  /**
   * With no filters the transport only publishes (no SUBSCRIBE: MQTT forbids an empty one) and
   * resolves at the first CONNACK. A malformed filter is refused here, before connecting.
   */
  start(filters: string[]): Promise<void> {
    const bad = filters.map(topicFilterProblem).find((p) => p !== undefined);
    if (bad) return Promise.reject(new Error(`mqtt: ${bad}`));
    try {
      if (filters.length > 0) encodeSubscribe(1, filters.map((topic) => ({ topic, qos: 1 as const }))); // e.g. a filter too long for MQTT
    } catch (err) {
      return Promise.reject(new Error(`mqtt: cannot subscribe: ${(err as Error).message}`));
    }
    this.filters = [...filters];
    return new Promise((resolve, reject) => {
      this.firstSubscribed = { resolve, reject };
      this.connect();
    });
  }

  connected(): boolean {
    return this.up;
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error("mqtt: transport closed"));
    const qos = options.qos ?? 1;
    const retain = options.retain ?? false;
    if (qos === 0) {
      if (this.up) this.write(encodePublish({ topic, payload, qos: 0, retain }));
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const id = this.allocateId();
      this.outgoing.set(id, { topic, payload, retain, resolve, reject });
      if (this.up) this.write(encodePublish({ topic, payload, qos: 1, retain, packetId: id }));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const o of this.outgoing.values()) o.reject(new Error("mqtt: transport closed"));
    this.outgoing.clear();
    this.firstSubscribed?.reject(new Error("mqtt: transport closed"));
    const s = this.socket;
    this.socket = undefined;
    this.up = false;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once("close", () => resolve());
        s.end(encodeDisconnect());
        const t = setTimeout(() => s.destroy(), 1000);
        t.unref();
      });
    }
  }

  // ---------------------------------------------------------------- connection
  private connect(): void {
    if (this.closed) return;
    const url = this.urls[this.urlIndex % this.urls.length];
    const target = parseBrokerUrl(url);
    const username = this.options.username ?? target.username;
    const password = this.options.password ?? target.password;
    const socket = target.tls
      ? tls.connect({ host: target.host, port: target.port, ca: this.options.caFile ? fs.readFileSync(this.options.caFile) : undefined, servername: target.host })
      : net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    this.socket = socket;
    const connectTimer = setTimeout(() => this.drop(socket, "no CONNACK in time"), CONNECT_TIMEOUT_MS);
    this.timers.add(connectTimer);
    this.parser = new MqttParser(
      (p) => this.pending.push(p),
      (reason) => this.drop(socket, `bad packet from broker: ${reason}`),
      { maxPacketSize: MAX_INCOMING_PACKET },
    );
    socket.once(target.tls ? "secureConnect" : "connect", () => {
      const keepAlive = this.options.keepAliveSec ?? DEFAULT_KEEPALIVE_SEC;
      this.write(
        encodeConnect({
          clientId: this.options.clientId,
          keepAlive,
          cleanSession: false,
          username,
          password: password === undefined ? undefined : utf8Encode(password),
        }),
      );
    });
    socket.on("data", (chunk: Buffer) => {
      if (socket !== this.socket) return;
      this.parser!.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.handlePackets(socket, connectTimer, url);
    });
    socket.on("error", (err) => this.log(`mqtt: ${url}: ${err.message}`));
    socket.on("close", () => {
      clearTimeout(connectTimer);
      this.timers.delete(connectTimer);
      if (socket !== this.socket) return;
      this.socket = undefined;
      this.up = false;
      this.urlIndex++; // a cluster: the next node
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.scheduleReconnect();
    });
  }

  private handlePackets(socket: net.Socket, connectTimer: ReturnType<typeof setTimeout>, url: string): void {
    const packets = this.pending;
    this.pending = [];
    const publishes: PublishPacket[] = [];
    for (const p of packets) {
      switch (p.type) {
        case "connack":
          clearTimeout(connectTimer);
          this.timers.delete(connectTimer);
          if (p.returnCode !== 0) {
            const reason = CONNACK_REASONS[p.returnCode] ?? `code ${p.returnCode}`;
            this.log(`mqtt: broker refused the connection: ${reason}`);
            // Bad credentials are not fixed by retrying quickly: back off to the cap.
            this.attempt = Math.max(this.attempt, 8);
            this.drop(socket, `refused: ${reason}`);
            return;
          }
          this.onConnected(url);
          break;
        case "suback":
          if (p.packetId === this.subscribeId) {
            const refused = p.returnCodes.some((c) => c === 0x80);
            if (refused) this.log(`mqtt: broker refused a subscription (${this.filters.join(", ")}): check the service account's ACL`);
            // After the first time, a refusal is retried on this connection (nats-server refuses while
            // its JetStream cluster re-elects leaders); the first one fails start() with a clear error.
            if (refused && !this.firstSubscribed) this.resubscribeLater(socket);
            if (!refused) this.subscribeRefusals = 0;
            const first = this.firstSubscribed;
            this.firstSubscribed = undefined;
            if (refused) first?.reject(new Error("mqtt: broker refused a subscription; check the service account's ACL"));
            else first?.resolve();
          }
          break;
        case "puback": {
          const o = this.outgoing.get(p.packetId);
          if (o) {
            this.outgoing.delete(p.packetId);
            o.resolve();
          }
          break;
        }
        case "pingresp":
          this.awaitingPong = false;
          break;
        case "publish":
          publishes.push(p);
          break;
        default:
          break;
      }
    }
    if (publishes.length === 0) return;
    const batch: InboundMessage[] = [];
    for (const p of publishes) {
      // A retained copy is the subscription's snapshot of the past. Once a live message of its
      // topic came on this connection, the copy is stale or a duplicate: aedes streams the
      // snapshot while live traffic flows, and a late copy used to undo a newer OTA status.
      if (!p.retain) this.liveTopics.add(p.topic);
      else if (this.liveTopics.has(p.topic)) continue; // still acknowledged below
      batch.push({ topic: p.topic, payload: p.payload, retain: p.retain });
    }
    if (batch.length > 0) {
      try {
        this.handler(batch);
      } catch (err) {
        // Not stored: no PUBACK; drop the connection so the broker redelivers (after a backoff).
        this.log(`mqtt: could not store ${batch.length} messages (${(err as Error).message}); not acknowledged`);
        this.drop(socket, "store failed");
        return;
      }
    }
    for (const p of publishes) if (p.qos === 1 && p.packetId !== undefined) this.write(encodePuback(p.packetId));
  }

  private onConnected(url: string): void {
    this.up = true;
    this.liveTopics.clear(); // a new subscription sends a new snapshot
    this.attempt = 0;
    this.log(`mqtt: connected to ${url}`);
    if (this.filters.length > 0) {
      this.subscribeId = this.allocateId();
      this.write(encodeSubscribe(this.subscribeId, this.filters.map((topic) => ({ topic, qos: 1 as const }))));
    } else {
      const first = this.firstSubscribed;
      this.firstSubscribed = undefined;
      first?.resolve();
    }
    // Resend what the broker may not have (3.1.1 §4.4: with DUP, in the original order).
    for (const [id, o] of this.outgoing) this.write(encodePublish({ topic: o.topic, payload: o.payload, qos: 1, retain: o.retain, packetId: id, dup: true }));
    const keepAliveMs = (this.options.keepAliveSec ?? DEFAULT_KEEPALIVE_SEC) * 1000;
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) return this.drop(this.socket, "no PINGRESP");
      this.awaitingPong = true;
      this.write(encodePingreq());
    }, keepAliveMs / 2);
    this.pingTimer.unref?.();
  }

  private resubscribeLater(socket: net.Socket): void {
    const delay = Math.min(BACKOFF_CAP_MS, RESUBSCRIBE_MS * 2 ** Math.min(this.subscribeRefusals, 16));
    this.subscribeRefusals++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (socket !== this.socket || !this.up) return; // a new connection subscribes by itself
      this.subscribeId = this.allocateId();
      this.write(encodeSubscribe(this.subscribeId, this.filters.map((topic) => ({ topic, qos: 1 as const }))));
    }, delay);
    this.timers.add(t);
  }

  private drop(socket: net.Socket | undefined, reason: string): void {
    if (!socket || socket.destroyed) return;
    this.log(`mqtt: connection closed: ${reason}`);
    socket.destroy();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const cap = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.connect();
    }, Math.floor(Math.random() * cap));
    this.timers.add(t);
  }

  private write(bytes: Uint8Array): void {
    const s = this.socket;
    if (s && !s.destroyed) s.write(bytes);
  }

  private allocateId(): number {
    for (let i = 0; i < MAX_PACKET_ID; i++) {
      const id = this.nextId;
      this.nextId = this.nextId >= MAX_PACKET_ID ? 1 : this.nextId + 1;
      if (!this.outgoing.has(id) && id !== this.subscribeId) return id;
    }
    throw new Error("mqtt: 65535 publishes in flight");
  }
}

/** Why `filter` is not a valid MQTT 3.1.1 topic filter (§4.7.1), or undefined when it is. */
export function topicFilterProblem(filter: string): string | undefined {
  if (typeof filter !== "string" || filter.length === 0) return "empty topic filter";
  if (filter.includes("\u0000")) return `topic filter ${JSON.stringify(filter)} contains U+0000`;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) return `topic filter ${JSON.stringify(filter)}: "#" must be a whole last level`;
    if (level.includes("+") && level !== "+") return `topic filter ${JSON.stringify(filter)}: "+" must be a whole level`;
  }
  return undefined;
}

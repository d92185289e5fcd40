/**
 * The link: MQTT client + connection manager + outbox, over the ports.
 * - Reconnects forever with full-jitter backoff (machine.ts / backoff.ts), after a random
 *   power-on delay, failing over round-robin among the broker list.
 * - Retained Last Will "offline" on tether/<id>/status, retained "online" after each connect.
 * - Telemetry goes into the persistent outbox (outbox.ts: one KV write) and is handed to the
 *   client's in-RAM QoS 1 window a few records at a time, in order, while online; its PUBACK
 *   deletes the record (one KV delete).
 * Callback-based on the Clock port; no promises, so a virtual clock drives it exactly.
 */
import { rethrowHalt, type Clock, type KeyValueStore, type Log, type Network, type Random, type SocketOptions, type TimerId } from "../../ports";
import { MqttClient, type MqttEvent, type QoS } from "../mqtt/client";
import { TopicUtf8, utf8Encode } from "../mqtt/utf8";
import { topics } from "../topics";
import { checkIntervals } from "../config/intervals";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff";
import { initialLink, step, type LinkEffect, type LinkInput, type LinkModel, type LinkPhase } from "./machine";
import { DEFAULT_OUTBOX_CAPACITY, DEFAULT_OUTBOX_MAX_BYTES, Outbox } from "./outbox";

export const STATUS_ONLINE = "online";
export const STATUS_OFFLINE = "offline";
export const DEFAULT_KEEPALIVE_SEC = 60;
/** Outbox records handed to the client at once: bounds RAM. */
export const DEFAULT_INFLIGHT_WINDOW = 4;

export interface BrokerEndpoint extends SocketOptions {
  /** For logs and events. */
  url?: string;
  username?: string;
  password?: string;
}

export interface LinkOptions {
  deviceId: string;
  /** One or more brokers to fail over among (round-robin on failed attempts). */
  brokers: BrokerEndpoint[];
  /** Defaults to deviceId: stable, so the broker keeps our session. */
  clientId?: string;
  keepAliveSec?: number;
  connackTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  queueCapacity?: number;
  queueMaxBytes?: number;
  inflightWindow?: number;
  /** Defaults to tether/<deviceId>/status. */
  statusTopic?: string;
}

export interface LinkPorts {
  clock: Clock;
  network: Network;
  kv: KeyValueStore;
  log: Log;
  random: Random;
}

export type LinkEvent =
  | { type: "state"; state: LinkPhase; detail: string }
  | { type: "message"; topic: string; payload: Uint8Array; qos: QoS; retain: boolean }
  | { type: "acked"; packetId: number }
  /** A queued record (telemetry) was acknowledged by the broker: delivered, at least once. */
  | { type: "delivered"; topic: string; packetId: number };

/** What telemetry reports about the link (telemetry/record.ts LinkStats). */
export interface LinkStatsSnapshot {
  state: LinkPhase;
  /** Successful connections after the first one, since boot. */
  reconnects: number;
  /** Records in the outbox: made and not yet acknowledged by the broker. */
  queued: number;
  /** Records the outbox dropped, ever. */
  dropped: number;
  /** Incoming messages skipped as over the packet limit (acknowledged, not handled), since boot. */
  oversized: number;
}

export class Link {
  readonly client: MqttClient;
  readonly outbox: Outbox;
  readonly policy: BackoffPolicy;
  readonly statusTopic: string;
  private model: LinkModel;
  private waitTimer: TimerId | undefined;
  private stableTimer: TimerId | undefined;
  private readonly window: number;
  /**
   * Records handed to the client (not status or OTA), oldest first: packet id → outbox record
   * number. An array, not a Map: it holds at most the window, PUBACKs come in order so the match
   * is at the front, and a Map emptied at every PUBACK reallocates its table.
   */
  private readonly handed: { id: number; n: number; topic: string }[] = [];

  constructor(
    private readonly ports: LinkPorts,
    private readonly options: LinkOptions,
    private readonly onEvent: (e: LinkEvent) => void = () => {},
  ) {
    if (options.brokers.length === 0) throw new Error("link: at least one broker is needed");
    this.policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    const p = this.policy;
    checkIntervals({
      keepAliveSec: options.keepAliveSec,
      connackTimeoutMs: options.connackTimeoutMs,
      baseMs: p.baseMs,
      capMs: p.capMs,
      stableMs: p.stableMs,
      powerOnMaxMs: p.powerOnMaxMs,
      refusedMinMs: p.refusedMinMs,
    });
    this.statusTopic = options.statusTopic ?? topics(options.deviceId).status;
    this.window = options.inflightWindow ?? DEFAULT_INFLIGHT_WINDOW;
    this.model = initialLink(options.brokers.length);
    // One cache of the topic's UTF-8 for the outbox that stores each record and the client that sends it.
    const topicUtf8 = new TopicUtf8();
    this.outbox = new Outbox(ports.kv, ports.log, options.queueCapacity ?? DEFAULT_OUTBOX_CAPACITY, options.queueMaxBytes ?? DEFAULT_OUTBOX_MAX_BYTES, this.window, topicUtf8);
    this.client = new MqttClient(
      ports,
      {
        clientId: options.clientId ?? options.deviceId,
        keepAliveSec: options.keepAliveSec ?? DEFAULT_KEEPALIVE_SEC,
        cleanSession: false,
        connackTimeoutMs: options.connackTimeoutMs,
        will: { topic: this.statusTopic, payload: utf8Encode(STATUS_OFFLINE), qos: 1, retain: true },
      },
      (e) => this.onMqtt(e),
      topicUtf8,
    );
  }

  get state(): LinkPhase {
    return this.model.phase;
  }
  /** A copy of the connection manager's model (attempt counters, broker index). */
  get snapshot(): Readonly<LinkModel> {
    return { ...this.model };
  }

  stats(): LinkStatsSnapshot {
    return {
      state: this.model.phase,
      reconnects: this.model.connects > 0 ? this.model.connects - 1 : 0,
      queued: this.outbox.length,
      dropped: this.outbox.dropped,
      oversized: this.client.oversizedCount,
    };
  }

  /** Power-on: waits the random power-on delay, then connects (and keeps reconnecting). */
  start(): void {
    this.dispatch({ type: "start" }, "power-on");
  }

  /** Graceful stop: retained "offline", DISCONNECT, every timer cleared. Safe twice. */
  stop(): void {
    if (this.client.connected) {
      try {
        this.client.publish(this.statusTopic, utf8Encode(STATUS_OFFLINE), 1, true);
      } catch (e) {
        rethrowHalt(e);
        this.ports.log("warn", `link: could not publish offline status: ${String(e)}`);
      }
    }
    this.dispatch({ type: "stop" }, "stopped");
  }

  /**
   * Puts a record (telemetry) in the outbox for ordered, at-least-once delivery that survives
   * reboots. Sent at once when online, else when the link comes back. Returns its number.
   * Throws OutboxError only for a record too large to ever store.
   */
  send(topic: string, payload: Uint8Array): number {
    const n = this.outbox.push(topic, payload);
    this.drain();
    return n;
  }

  /**
   * Publishes directly, not through the outbox: QoS 1 is resent after a reconnect within
   * this boot, not after a reboot (status, OTA status, config results); QoS 0 needs a connection.
   */
  publish(topic: string, payload: Uint8Array, qos: QoS, retain = false): number {
    return this.client.publish(topic, payload, qos, retain);
  }

  subscribe(topics: { topic: string; qos: QoS }[]): void {
    this.client.subscribe(topics);
  }

  unsubscribe(topics: string[]): void {
    this.client.unsubscribe(topics);
  }

  // ---------------------------------------------------------------- state machine driver
  private dispatch(input: LinkInput, detail: string): void {
    const before = this.model.phase;
    const { model, effects } = step(this.model, input, this.policy, this.ports.random);
    this.model = model;
    if (model.phase !== before) this.emit({ type: "state", state: model.phase, detail });
    for (const e of effects) this.apply(e);
  }

  private apply(e: LinkEffect): void {
    const { clock } = this.ports;
    switch (e.type) {
      case "wait":
        this.clearWait();
        this.ports.log("info", `link: ${e.why} wait ${e.ms} ms`);
        this.waitTimer = clock.setTimeout(() => {
          this.waitTimer = undefined;
          this.dispatch({ type: "timer" }, this.brokerLabel(this.model.broker));
        }, e.ms);
        return;
      case "connect": {
        const b = this.options.brokers[e.broker];
        this.client.setCredentials(b.username, b.password);
        this.client.connect({ host: b.host, port: b.port, tls: b.tls });
        return;
      }
      case "arm-stable":
        if (this.stableTimer !== undefined) clock.clearTimeout(this.stableTimer);
        this.stableTimer = clock.setTimeout(() => {
          this.stableTimer = undefined;
          this.dispatch({ type: "stable" }, "stable");
        }, e.ms);
        return;
      case "cancel":
        this.clearWait();
        if (this.stableTimer !== undefined) clock.clearTimeout(this.stableTimer);
        this.stableTimer = undefined;
        return;
      case "disconnect":
        this.client.disconnect();
        return;
    }
  }

  private clearWait(): void {
    if (this.waitTimer !== undefined) this.ports.clock.clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
  }

  private brokerLabel(i: number): string {
    const b = this.options.brokers[i];
    return b.url ?? `${b.tls ? "mqtts" : "mqtt"}://${b.host}:${b.port}`;
  }

  private emit(e: LinkEvent): void {
    try {
      this.onEvent(e);
    } catch (err) {
      rethrowHalt(err);
      this.ports.log("error", `link: event handler threw on ${e.type}: ${String(err)}`);
    }
  }

  private onMqtt(e: MqttEvent): void {
    switch (e.type) {
      case "connected":
        this.dispatch({ type: "connected" }, e.sessionPresent ? "session present" : "new session");
        if (!this.client.connected) return;
        try {
          // Not persisted: a stale "online" after a reboot would be wrong, a fresh one follows each connect.
          this.client.publish(this.statusTopic, utf8Encode(STATUS_ONLINE), 1, true);
        } catch (err) {
          rethrowHalt(err);
          this.ports.log("warn", `link: could not publish online status: ${String(err)}`);
        }
        this.drain();
        return;
      case "refused":
        this.dispatch({ type: "refused", code: e.code }, `refused: ${e.reason}`);
        return;
      case "closed":
        this.dispatch({ type: "closed" }, e.reason);
        return;
      case "acked": {
        this.emit(e);
        const i = this.handedIndex(e.packetId);
        if (i >= 0) {
          const r = this.handed[i];
          if (i === 0) this.handed.shift(); // the usual case; splice would allocate its result array
          else this.handed.splice(i, 1);
          this.outbox.acknowledge(r.n);
          this.emit({ type: "delivered", topic: r.topic, packetId: e.packetId });
        }
        this.drain();
        return;
      }
      case "message":
        this.emit(e);
        return;
      case "oversized":
      case "subscribed":
        return;
    }
  }

  /** Hands outbox records to the client, oldest first, while online and the window has room. */
  private drain(): void {
    while (this.client.connected && this.client.inflightCount < this.window) {
      const r = this.outbox.nextToSend();
      if (!r) return;
      let id: number;
      try {
        id = this.client.publish(r.topic, r.payload, 1, false, r.maybeSent);
      } catch (err) {
        rethrowHalt(err);
        this.ports.log("error", `link: could not hand record ${r.n} to MQTT: ${String(err)}`);
        return;
      }
      this.outbox.markHanded(r.n);
      this.setHanded(id, r.n, r.topic);
    }
  }

  private handedIndex(packetId: number): number {
    const list = this.handed;
    for (let i = 0; i < list.length; i++) if (list[i].id === packetId) return i;
    return -1;
  }

  /** As the Map it replaces did: an id already listed gets the new record, in place. */
  private setHanded(id: number, n: number, topic: string): void {
    const i = this.handedIndex(id);
    if (i >= 0) this.handed[i] = { id, n, topic };
    else this.handed.push({ id, n, topic });
  }
}

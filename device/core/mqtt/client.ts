/**
 * A portable MQTT 3.1.1 client on the ports: QoS 0/1 both ways, persistent sessions,
 * an in-flight QoS 1 store that survives reboot, keep-alive with dead-link detection (keepalive.ts) and a
 * CONNACK timeout. Callback-based (Clock timers only), so a virtual clock can drive it.
 *
 * One MqttClient lives for the device's uptime; connect() starts one connection attempt
 * and every attempt ends with exactly one "closed" event. Reconnect policy lives in
 * ../link (this client never reconnects by itself).
 *
 * Bad network input never throws out of here: the connection closes with a reason.
 */
import { rethrowHalt, type Clock, type Log, type Network, type Socket, type SocketOptions, type TimerId } from "../../ports";
import {
  CONNACK_REASONS, MqttEncodeError, encodeConnect, encodeDisconnect, encodePingreq, encodePuback,
  encodePublishEncoded, encodeSubscribe, encodeUnsubscribe, hasWildcard, type Packet,
} from "./codec";
import { DEFAULT_MAX_PACKET, MqttParser, type OversizedPublish } from "./parser";
import { keepAliveStep, type KeepAliveClock } from "./keepalive";
import { TopicUtf8, utf8Encode, utf8Length } from "./utf8";
import { setErrorName } from "../util/error-name";

// ---------------------------------------------------------------- defaults
export const DEFAULT_CONNACK_TIMEOUT_MS = 10_000;
/**
 * A QoS 1 PUBLISH unacknowledged this long closes the connection: 3.1.1 resends only after a
 * reconnect, so a lost PUBACK would otherwise wedge the in-flight window for the whole session.
 */
export const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const MAX_PACKET_ID = 0xffff;
/** SUBACK return code: the broker refused the subscription (§3.9.3). */
const SUBACK_FAILURE = 0x80;
/**
 * A subscription the broker refused (SUBACK 0x80) is asked for again after this delay, doubled
 * per refusal in a row up to the cap: nats-server refuses while its JetStream cluster elects a
 * leader after losing a node, and a device left without its OTA subscription would never see an
 * offer while still looking healthy (telemetry flows).
 */
export const SUBSCRIBE_RETRY_MS = 2_000;
export const SUBSCRIBE_RETRY_CAP_MS = 120_000;

export type QoS = 0 | 1;

export interface MqttClientOptions {
  clientId: string;
  keepAliveSec: number;
  cleanSession: boolean;
  username?: string;
  password?: string;
  will?: { topic: string; payload: Uint8Array; qos: QoS; retain: boolean };
  /** Deadline for the socket handshake plus the CONNACK (default 10 s). */
  connackTimeoutMs?: number;
  /**
   * Largest incoming Remaining Length accepted. A bigger PUBLISH is skipped unread,
   * acknowledged (QoS 1), counted and reported; any other bigger packet closes the connection.
   */
  maxPacketSize?: number;
  /** How long a QoS 1 PUBLISH may wait for its PUBACK before the connection is restarted (0 = never). */
  ackTimeoutMs?: number;
}

export type MqttEvent =
  | { type: "connected"; sessionPresent: boolean }
  | { type: "refused"; code: number; reason: string } // CONNACK return code != 0
  | { type: "closed"; reason: string } // once per connection attempt
  | { type: "message"; topic: string; payload: Uint8Array; qos: QoS; retain: boolean }
  | { type: "acked"; packetId: number } // PUBACK for our QoS 1 publish
  | { type: "oversized"; topic?: string; length: number; qos: QoS; retain: boolean; dup: boolean } // skipped, acknowledged
  | { type: "subscribed"; packetId: number; topics: string[]; returnCodes: number[] }; // SUBACK

export interface MqttPorts {
  clock: Clock;
  network: Network;
  log: Log;
}

export class MqttError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "MqttError");
  }
}

type Phase = "idle" | "connecting" | "connack" | "connected";

interface InflightEntry {
  packetId: number;
  /** The topic's UTF-8, as the first send used it (the resend writes the same bytes). */
  topic: Uint8Array;
  payload: Uint8Array;
  retain: boolean;
  /** True once the PUBLISH may have reached the broker: a resend then carries DUP. */
  sent: boolean;
  /** When it went out on the current connection (NOT_SENT: not on this one): the PUBACK deadline. */
  sentAt: number;
}

const NOT_SENT = -1;

/**
 * PINGREQ is always the same two bytes and never written to after it is made, so one serves
 * every ping. Made at first use, not at module load (a board's preloaded bundle is in flash).
 */
let pingreq: Uint8Array | undefined;

interface Subscription {
  qos: QoS;
  /** SUBACKed within the current broker session. */
  confirmed: boolean;
}

export class MqttClient {
  private phase: Phase = "idle";
  private socket: Socket | undefined;
  private parser: MqttParser | undefined;
  /** Bumped per attempt so callbacks from an old socket are ignored. */
  private generation = 0;
  private connackTimer: TimerId | undefined;
  /**
   * One timer for both deadlines of a connection: the keep-alive's next check and the oldest
   * unacknowledged PUBLISH's PUBACK deadline. It may fire early (each check re-arms it), never
   * late: a publish moves it only to an earlier time. With telemetry the two coincide (a report's
   * PUBACK deadline falls where the keep-alive looks again), so one timer per message, not two.
   */
  private deadlineTimer: TimerId | undefined;
  /** When deadlineTimer fires (meaningful while it is set). */
  private deadlineAt = 0;
  private subscribeRetryTimer: TimerId | undefined;
  /** Refused SUBACKs in a row (reset by a granted one): the retry delay doubles with it. */
  private subscribeRefusals = 0;
  /** When this connection last sent, received and pinged (keepalive.ts). */
  private readonly traffic: KeepAliveClock = { lastSent: 0, lastReceived: 0, lastPing: undefined };
  private lastWriteAt: number | undefined;
  private nextId = 1;
  /**
   * QoS 1 PUBLISHes awaiting PUBACK, in publish order. RAM only: what must survive a reboot is
   * the link's outbox (../link/outbox.ts). An array, not a Map by packet id: the link keeps a
   * few in flight and PUBACKs come in order, so the match is at the front, and emptying a Map
   * at every PUBACK makes it reallocate its table (the largest allocation per message in a fleet).
   */
  private readonly inflight: InflightEntry[] = [];
  private readonly subs = new Map<string, Subscription>();
  private readonly pendingUnsubs = new Set<string>();
  private readonly subAcks = new Map<number, string[]>();
  /**
   * The last topic publish() accepted: the link publishes the same topic every time, so it is
   * checked once. Its UTF-8 comes from `topicUtf8`, which the link's outbox shares.
   */
  private checkedTopic: string | undefined;
  private readonly unsubAcks = new Map<number, string[]>();
  private oversized = 0;

  private readonly options: MqttClientOptions;
  /**
   * The two intervals the hot path reads on every tick and publish, kept as plain fields: the
   * options object's shape varies between clients (optional fields, credentials set later), so
   * reading it there is a polymorphic property load.
   */
  private readonly keepAliveMs: number;
  private readonly ackTimeoutMs: number;

  constructor(
    private readonly ports: MqttPorts,
    options: MqttClientOptions,
    private readonly onEvent: (e: MqttEvent) => void,
    /** The one cache of the topic's UTF-8 (the link passes the one its outbox uses). */
    private readonly topicUtf8 = new TopicUtf8(),
  ) {
    this.options = { ...options };
    this.keepAliveMs = options.keepAliveSec * 1000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
  }

  /** Credentials for the next connect (brokers in a failover list may each have their own). */
  setCredentials(username: string | undefined, password: string | undefined): void {
    this.options.username = username;
    this.options.password = password;
  }

  get connected(): boolean {
    return this.phase === "connected";
  }
  /**
   * When the client last wrote to its socket (clock ms), undefined before its first write: that
   * packet may still be on the air, so a battery read waits past it (agent.ts).
   */
  get lastWrittenAt(): number | undefined {
    return this.lastWriteAt;
  }
  /** QoS 1 messages not yet acknowledged (stored, sent or waiting for a connection). */
  get inflightCount(): number {
    return this.inflight.length;
  }
  /** Incoming PUBLISHes skipped (and acknowledged) for being over maxPacketSize, since boot. */
  get oversizedCount(): number {
    return this.oversized;
  }
  inflightIds(): number[] {
    return this.inflight.map((e) => e.packetId);
  }

  /** Index of the in-flight entry with this packet id, or -1. */
  private inflightIndex(packetId: number): number {
    const list = this.inflight;
    for (let i = 0; i < list.length; i++) if (list[i].packetId === packetId) return i;
    return -1;
  }

  // ---------------------------------------------------------------- connection
  connect(target: SocketOptions): void {
    if (this.phase !== "idle") this.finish("superseded by a new connect");
    const gen = ++this.generation;
    this.phase = "connecting";
    // One deadline covers the TCP/TLS handshake and the CONNACK: an OS connect timeout can be minutes.
    this.connackTimer = this.ports.clock.setTimeout(() => {
      this.connackTimer = undefined;
      this.finish(this.phase === "connecting" ? "connect timeout" : "CONNACK timeout");
    }, this.options.connackTimeoutMs ?? DEFAULT_CONNACK_TIMEOUT_MS);
    this.parser = new MqttParser(
      (p) => this.onPacketSafe(gen, p),
      (reason) => this.finish(reason),
      { maxPacketSize: this.options.maxPacketSize ?? DEFAULT_MAX_PACKET, onOversized: (p) => this.onOversizedSafe(gen, p) },
    );
    try {
      this.socket = this.ports.network.connect(target, {
        onConnect: () => gen === this.generation && this.onSocketConnect(),
        onData: (bytes) => {
          if (gen !== this.generation || !this.parser) return;
          this.traffic.lastReceived = this.ports.clock.now();
          this.parser.push(bytes);
        },
        onClose: (reason) => {
          if (gen !== this.generation) return;
          this.socket = undefined; // already closed by the peer/network
          const mid = this.parser?.midPacket ? " (mid-packet)" : "";
          this.finish(`socket closed: ${reason}${mid}`);
        },
      });
    } catch (e) {
      rethrowHalt(e);
      this.socket = undefined;
      this.finish(`connect failed: ${String(e)}`);
    }
  }

  /** Sends DISCONNECT when connected, closes, clears every timer; safe to call twice. */
  disconnect(): void {
    if (this.phase === "connected") this.send(encodeDisconnect());
    this.finish("disconnected by client");
  }

  private onSocketConnect(): void {
    if (this.phase !== "connecting") return;
    const o = this.options;
    let connect: Uint8Array;
    try {
      connect = encodeConnect({
        clientId: o.clientId,
        keepAlive: o.keepAliveSec,
        cleanSession: o.cleanSession,
        username: o.username,
        password: o.password === undefined ? undefined : utf8Encode(o.password),
        will: o.will,
      });
    } catch (e) {
      return this.finish(`bad connect options: ${String(e)}`);
    }
    this.phase = "connack";
    this.send(connect);
  }

  /** Ends the current attempt: clears timers, closes the socket, emits "closed" once. */
  private finish(reason: string): void {
    if (this.phase === "idle") return;
    this.phase = "idle";
    this.generation++;
    this.clearTimers();
    const s = this.socket;
    this.socket = undefined;
    this.parser = undefined;
    if (s) {
      try {
        s.close();
      } catch (e) {
        this.ports.log("debug", `mqtt: close threw ${String(e)}`);
      }
    }
    this.subAcks.clear();
    this.unsubAcks.clear();
    this.ports.log("info", `mqtt: closed: ${reason}`);
    this.emit({ type: "closed", reason });
  }

  private clearTimers(): void {
    const c = this.ports.clock;
    if (this.connackTimer !== undefined) c.clearTimeout(this.connackTimer);
    if (this.deadlineTimer !== undefined) c.clearTimeout(this.deadlineTimer);
    if (this.subscribeRetryTimer !== undefined) c.clearTimeout(this.subscribeRetryTimer);
    this.connackTimer = this.deadlineTimer = this.subscribeRetryTimer = undefined;
    this.traffic.lastPing = undefined;
    for (const e of this.inflight) e.sentAt = NOT_SENT;
  }

  private emit(e: MqttEvent): void {
    try {
      this.onEvent(e);
    } catch (err) {
      rethrowHalt(err);
      // An application bug must not corrupt the protocol state.
      this.ports.log("error", `mqtt: event handler threw on ${e.type}: ${String(err)}`);
    }
  }

  /** Writes bytes; a failing socket ends the attempt. Returns false when not written. */
  private send(bytes: Uint8Array): boolean {
    const s = this.socket;
    if (!s) return false;
    try {
      s.write(bytes);
    } catch (e) {
      rethrowHalt(e);
      this.finish(`write failed: ${String(e)}`);
      return false;
    }
    this.traffic.lastSent = this.lastWriteAt = this.ports.clock.now();
    return true;
  }

  // ---------------------------------------------------------------- incoming packets
  /** A bug in handling one packet must end the connection, not escape into the socket adapter. */
  private onPacketSafe(gen: number, p: Packet): void {
    try {
      this.onPacket(gen, p);
    } catch (e) {
      rethrowHalt(e);
      this.ports.log("error", `mqtt: error handling ${p.type}: ${String(e)}`);
      if (gen === this.generation) this.finish(`internal error handling ${p.type.toUpperCase()}: ${String(e)}`);
    }
  }

  private onPacket(gen: number, p: Packet): void {
    if (gen !== this.generation) return;
    if (this.phase === "connack") {
      if (p.type !== "connack") return this.finish(`protocol: expected CONNACK, got ${p.type.toUpperCase()}`);
      return this.onConnack(p.sessionPresent, p.returnCode);
    }
    if (this.phase !== "connected") return;
    switch (p.type) {
      case "publish":
        return this.onPublish(p.topic, p.payload, p.qos, p.retain, p.packetId);
      case "puback": {
        const i = this.inflightIndex(p.packetId);
        // The match is nearly always the oldest; splice would allocate its result array.
        if (i === 0) this.inflight.shift();
        else if (i > 0) this.inflight.splice(i, 1);
        if (i >= 0) this.emit({ type: "acked", packetId: p.packetId });
        else this.ports.log("debug", `mqtt: PUBACK for unknown id ${p.packetId}`);
        return;
      }
      case "suback": {
        const topics = this.subAcks.get(p.packetId);
        if (!topics) return;
        this.subAcks.delete(p.packetId);
        let refused = false;
        topics.forEach((t, i) => {
          const s = this.subs.get(t);
          const code = p.returnCodes[i] ?? SUBACK_FAILURE;
          if (s && code !== SUBACK_FAILURE) s.confirmed = true;
          if (code === SUBACK_FAILURE) {
            refused = true;
            this.ports.log("warn", `mqtt: subscription to ${t} refused`);
          }
        });
        if (refused) this.retrySubscriptionsLater();
        else this.subscribeRefusals = 0;
        this.emit({ type: "subscribed", packetId: p.packetId, topics, returnCodes: p.returnCodes });
        return;
      }
      case "unsuback": {
        const topics = this.unsubAcks.get(p.packetId);
        this.unsubAcks.delete(p.packetId);
        if (topics) for (const t of topics) this.pendingUnsubs.delete(t);
        return;
      }
      case "pingresp":
        return; // its arrival already counted as "received" for the keep-alive
      default:
        return this.finish(`protocol: unexpected ${p.type.toUpperCase()} from broker`);
    }
  }

  /**
   * A PUBLISH over the packet limit was streamed past. Closing instead (without PUBACK) would
   * make the broker redeliver it on every resumed session, for ever: acknowledge it and go on.
   */
  private onOversizedSafe(gen: number, p: OversizedPublish): void {
    if (gen !== this.generation) return;
    if (this.phase !== "connected") return this.finish(`protocol: PUBLISH of ${p.length} bytes before CONNACK`);
    if (p.qos === 2) return this.finish("protocol: QoS 2 PUBLISH not supported (never subscribed above QoS 1)");
    this.oversized++;
    const limit = this.options.maxPacketSize ?? DEFAULT_MAX_PACKET;
    this.ports.log("warn", `mqtt: skipped a ${p.length}-byte PUBLISH on ${p.topic ?? "(long topic)"} (limit ${limit}), ${this.oversized} so far`);
    this.emit({ type: "oversized", topic: p.topic, length: p.length, qos: p.qos, retain: p.retain, dup: p.dup });
    if (p.qos === 1 && p.packetId !== undefined && gen === this.generation) this.send(encodePuback(p.packetId));
  }

  private onConnack(sessionPresent: boolean, code: number): void {
    if (this.connackTimer !== undefined) this.ports.clock.clearTimeout(this.connackTimer);
    this.connackTimer = undefined;
    if (code !== 0) {
      const reason = CONNACK_REASONS[code] ?? `unknown return code ${code}`;
      const gen = this.generation;
      this.emit({ type: "refused", code, reason });
      if (gen === this.generation) this.finish(`refused: ${reason} (${code})`);
      return;
    }
    // §3.2.2.2: with CleanSession 1 the server must answer sessionPresent 0; treat it so.
    const present = sessionPresent && !this.options.cleanSession;
    this.phase = "connected";
    const gen = this.generation;
    this.checkDeadlines();
    if (!present) for (const s of this.subs.values()) s.confirmed = false;
    // Resend unacknowledged QoS 1 in publish order; DUP only for ones that may have gone out.
    for (const e of this.inflight.slice()) {
      const bytes = encodePublishEncoded(e.topic, e.payload, 1, e.retain, e.sent, e.packetId);
      e.sent = true;
      if (!this.sendQos1(e, bytes) || gen !== this.generation) return;
    }
    this.flushSubscriptions();
    if (gen !== this.generation) return;
    this.emit({ type: "connected", sessionPresent: present });
  }

  private onPublish(topic: string, payload: Uint8Array, qos: number, retain: boolean, id: number | undefined): void {
    if (qos === 2) return this.finish("protocol: QoS 2 PUBLISH not supported (never subscribed above QoS 1)");
    const gen = this.generation;
    this.emit({ type: "message", topic, payload, qos: qos as QoS, retain });
    // At-least-once: acknowledge only after the application has seen it.
    if (qos === 1 && id !== undefined && gen === this.generation) this.send(encodePuback(id));
  }

  // ---------------------------------------------------------------- deadlines
  // Bound once: re-armed for the whole life of every connection.
  private readonly onDeadlineTimer = (): void => {
    this.deadlineTimer = undefined;
    this.checkDeadlines();
  };

  /**
   * The PUBACK deadline, then the keep-alive (pings and declares the link dead as keepalive.ts
   * decides); re-arms the one timer for whichever comes next.
   */
  private checkDeadlines(): void {
    if (this.phase !== "connected") return;
    const clock = this.ports.clock;
    let next = Infinity;
    const limit = this.ackTimeoutMs;
    if (limit > 0) {
      const now = clock.now();
      for (const e of this.inflight) {
        if (e.sentAt === NOT_SENT) continue;
        if (now - e.sentAt >= limit) return this.finish(`PUBACK timeout for packet ${e.packetId}`);
        if (e.sentAt + limit < next) next = e.sentAt + limit;
      }
    }
    const ka = this.keepAliveMs;
    if (ka > 0) {
      let d = keepAliveStep(clock.now(), this.traffic, ka);
      if (d.action === "ping") {
        if (!this.send((pingreq ??= encodePingreq()))) return;
        this.traffic.lastPing = this.traffic.lastSent;
        d = keepAliveStep(clock.now(), this.traffic, ka);
      }
      if (d.action === "dead") return this.finish(`keep-alive: no PINGRESP (nothing received for ${d.silentMs} ms)`);
      if (d.action === "wait" && d.nextAt < next) next = d.nextAt;
    }
    this.armDeadline(next);
  }

  /** Makes the deadline timer fire no later than `at` (Infinity: nothing due). */
  private armDeadline(at: number): void {
    if (at === Infinity || this.phase !== "connected") return;
    const clock = this.ports.clock;
    if (this.deadlineTimer !== undefined) {
      if (this.deadlineAt <= at) return; // it fires first and re-arms for this
      clock.clearTimeout(this.deadlineTimer);
    }
    this.deadlineAt = at;
    this.deadlineTimer = clock.setTimeout(this.onDeadlineTimer, Math.max(0, at - clock.now()));
  }

  // ---------------------------------------------------------------- publish / subscribe
  private allocateId(): number {
    for (let n = 0; n < MAX_PACKET_ID; n++) {
      const id = this.nextId;
      this.nextId = id === MAX_PACKET_ID ? 1 : id + 1;
      if (this.inflightIndex(id) < 0 && !this.subAcks.has(id) && !this.unsubAcks.has(id)) return id;
    }
    throw new MqttError("all 65535 packet ids are in flight");
  }

  /**
   * Publishes a message. QoS 1 messages are kept in RAM until their PUBACK and resent (DUP)
   * after a reconnect; published while offline, they go out on the next connection. What must
   * survive a reboot goes through the link's outbox instead. Returns the packet id (QoS 1).
   * `dup` marks a first transmission that may repeat one made before a reboot.
   * QoS 0 messages are sent only while connected (else dropped); returns 0.
   * Throws MqttError for caller errors (bad topic, too large, all packet ids in use).
   */
  publish(topic: string, payload: Uint8Array, qos: QoS, retain = false, dup = false): number {
    const topicBytes = this.topicUtf8.bytes(topic);
    if (topic !== this.checkedTopic) {
      if (topic.length === 0 || hasWildcard(topic) || topicBytes.length > 0xffff) {
        throw new MqttError(`invalid publish topic "${topic.slice(0, 60)}"`);
      }
      this.checkedTopic = topic;
    }
    if (qos === 0) {
      if (this.phase === "connected") this.send(encodePublishEncoded(topicBytes, payload, 0, retain, false));
      return 0;
    }
    if (qos !== 1) throw new MqttError(`unsupported QoS ${String(qos)}`);
    const id = this.allocateId();
    const online = this.phase === "connected";
    let bytes: Uint8Array;
    try {
      bytes = encodePublishEncoded(topicBytes, payload, 1, retain, dup, id);
    } catch (e) {
      throw new MqttError(e instanceof MqttEncodeError ? e.message : String(e));
    }
    const entry: InflightEntry = { packetId: id, topic: topicBytes, payload, retain, sent: online || dup, sentAt: NOT_SENT };
    this.inflight.push(entry);
    if (online) this.sendQos1(entry, bytes);
    return id;
  }

  private sendQos1(e: InflightEntry, bytes: Uint8Array): boolean {
    if (!this.send(bytes)) return false;
    e.sentAt = this.ports.clock.now();
    if (this.ackTimeoutMs > 0) this.armDeadline(e.sentAt + this.ackTimeoutMs);
    return true;
  }

  private retrySubscriptionsLater(): void {
    if (this.subscribeRetryTimer !== undefined) return;
    const delay = Math.min(SUBSCRIBE_RETRY_CAP_MS, SUBSCRIBE_RETRY_MS * (1 << Math.min(this.subscribeRefusals, 8)));
    this.subscribeRefusals++;
    this.subscribeRetryTimer = this.ports.clock.setTimeout(this.onSubscribeRetryTimer, delay);
  }

  // Bound once; cleared with the connection's other timers, and a new connection resubscribes anyway.
  private readonly onSubscribeRetryTimer = (): void => {
    this.subscribeRetryTimer = undefined;
    if (this.phase === "connected") this.flushSubscriptions();
  };

  /** Adds subscriptions; sent now when connected, else on the next connection. */
  subscribe(topics: { topic: string; qos: QoS }[]): void {
    for (const t of topics) {
      if (t.topic.length === 0 || utf8Length(t.topic) > 0xffff) throw new MqttError(`invalid topic filter "${t.topic.slice(0, 40)}"`);
      if (t.qos !== 0 && t.qos !== 1) throw new MqttError(`unsupported subscription QoS ${String(t.qos)}`);
      this.subs.set(t.topic, { qos: t.qos, confirmed: false });
      this.pendingUnsubs.delete(t.topic);
    }
    if (this.phase === "connected") this.flushSubscriptions();
  }

  unsubscribe(topics: string[]): void {
    for (const t of topics) if (t.length === 0 || utf8Length(t) > 0xffff) throw new MqttError("invalid topic filter");
    for (const t of topics) {
      this.subs.delete(t);
      this.pendingUnsubs.add(t);
    }
    if (this.phase === "connected") this.flushSubscriptions();
  }

  /** Sends SUBSCRIBE for unconfirmed subscriptions and UNSUBSCRIBE for pending removals. */
  private flushSubscriptions(): void {
    const inFlightSub = new Set<string>();
    for (const ts of this.subAcks.values()) for (const t of ts) inFlightSub.add(t);
    const want = [...this.subs].filter(([t, s]) => !s.confirmed && !inFlightSub.has(t));
    if (want.length > 0) {
      const id = this.allocateId();
      this.subAcks.set(id, want.map(([t]) => t));
      if (!this.send(encodeSubscribe(id, want.map(([topic, s]) => ({ topic, qos: s.qos }))))) return;
    }
    const inFlightUnsub = new Set<string>();
    for (const ts of this.unsubAcks.values()) for (const t of ts) inFlightUnsub.add(t);
    const drop = [...this.pendingUnsubs].filter((t) => !inFlightUnsub.has(t));
    if (drop.length > 0) {
      const id = this.allocateId();
      this.unsubAcks.set(id, drop);
      this.send(encodeUnsubscribe(id, drop));
    }
  }
}

/**
 * A portable MQTT 3.1.1 broker on the virtual network, driven by the virtual clock: the
 * `--broker virtual` of `tether sim`. Devices reach it with real MQTT bytes over
 * VirtualNetwork; a virtual backend talks to them through subscribeInternal/publishInternal.
 * Behaviour follows Mosquitto 2.0 where the spec leaves a choice (docs/protocol/broker.md);
 * test/broker/conformance.test.ts checks it against aedes and Mosquitto.
 *
 * Node-free (runs inside XS too): only the Clock port, no timers of its own besides it.
 * Bad input from a client closes that client's connection and never throws.
 */
import type { Clock } from "../../device/ports";
import {
  CONNACK_REASONS, PROTOCOL_LEVEL, PROTOCOL_NAME, encodeConnack, encodePingresp, encodePublish,
  encodePubcomp, encodePubrec, encodeSuback, encodeUnsuback, type Packet, type PublishPacket, type Will,
} from "../../device/core/mqtt/codec";
import type { VirtualLink, VirtualNetwork, VirtualSocket } from "../virtual/network";
import { AWAITING_CONNECT, CLOSED, CONNECTED, Connection } from "./connection";
import { RetainedStore } from "./retained";
import { Session, type Delivery } from "./session";
import { SubscriptionTrie, validFilter } from "./topic-match";

// ---------------------------------------------------------------- defaults (Mosquitto's where it has one)
export const DEFAULT_HOST = "broker";
export const DEFAULT_PORT = 1883;
/** Mosquitto max_inflight_messages. */
export const DEFAULT_INFLIGHT_WINDOW = 20;
/** Mosquitto max_queued_messages. */
export const DEFAULT_MAX_QUEUED = 1000;
/** Bounds the parser's allocation per packet (Mosquitto's limit is 256 MB; ours is a sim). */
export const DEFAULT_MAX_PACKET = 1024 * 1024;
/** A socket that sends no CONNECT within this long is closed. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** CONNACK return codes (§3.2.2.3). */
export const RC_ACCEPTED = 0;
export const RC_BAD_PROTOCOL = 1;
export const RC_ID_REJECTED = 2;
export const RC_SERVER_UNAVAILABLE = 3;
export const RC_BAD_CREDENTIALS = 4;
export const RC_NOT_AUTHORIZED = 5;
/** SUBACK return code for a refused subscription (§3.9.3). */
export const SUBACK_FAILURE = 0x80;
/** PUBACK is always these four bytes but the id (§3.4). */
const PUBACK_FIRST = 0x40;

export type QoS = 0 | 1;

export interface VirtualBrokerOptions {
  host?: string;
  port?: number;
  /** Returns a CONNACK code: 0 accept, 4 bad user name or password, 5 not authorised. */
  authenticate?: (clientId: string, username: string | undefined, password: Uint8Array | undefined) => number;
  inflightWindow?: number;
  maxQueued?: number;
  maxPacketSize?: number;
  connectTimeoutMs?: number;
}

/**
 * Fault switches for tests, all off by default and changeable at any moment. Each one makes
 * the broker misbehave the way a broken or overloaded server does, so clients can be tested
 * against the same broker that the conformance suite checks.
 */
export interface BrokerFaults {
  /** CONNECTs get no CONNACK; the socket stays open until the connect timeout closes it. */
  noConnack?: boolean;
  /** PINGREQs get no PINGRESP (a hung broker whose TCP stack still answers). */
  noPingresp?: boolean;
  /** QoS 1 PUBLISHes from clients are routed but never PUBACKed. */
  noPuback?: boolean;
  /** When non-zero, every CONNECT is refused with this CONNACK return code. */
  refuseCode?: number;
  /**
   * SUBSCRIBE to a matching filter is answered 0x80 (failure) and not recorded, the way
   * nats-server answers when it cannot create the subscription's JetStream consumer in time.
   */
  refuseSubscribe?: (filter: string) => boolean;
}

export type BrokerEvent =
  | { type: "connected"; clientId: string; sessionPresent: boolean }
  | { type: "refused"; clientId: string; returnCode: number }
  | { type: "disconnected"; clientId: string; reason: string; willSent: boolean };

/** A server-side subscriber without a socket: how a virtual backend listens. */
export type InternalHandler = (topic: string, payload: Uint8Array, qos: QoS, retain: boolean) => void;

class InternalSub {
  constructor(
    readonly filter: string,
    readonly handler: InternalHandler,
  ) {}
}

type Subscriber = Session | InternalSub;

/**
 * Per topic: the publish count, and its subscribers as matched at trie version `version`.
 * Routing a fleet's telemetry hits this cache instead of walking the trie each time.
 */
class TopicEntry {
  count = 0;
  version = -1;
  subs: Subscriber[] = [];
  qos: number[] = [];
  /** How many of subs are client sessions (which keep what they are sent until the PUBACK). */
  sessions = 0;
}

export class BrokerStats {
  /** Sockets accepted by the listener. */
  accepted = 0;
  /** CONNECTs accepted (CONNACK 0). */
  connects = 0;
  /** CONNECTs answered with a non-zero return code. */
  refused = 0;
  /** CONNECT packets received: accepted, refused, or left unanswered by `faults.noConnack`. */
  connectsReceived = 0;
  /** Connections currently past CONNECT. */
  connected = 0;
  /** PUBLISHes routed (from clients, wills and publishInternal). */
  published = 0;
  /** Messages handed to a subscriber (socket writes and internal handlers). */
  delivered = 0;
  /** QoS 1 messages sent again with DUP after a reconnect. */
  redelivered = 0;
  /** QoS 1 messages dropped because a session queue was full. */
  droppedQueueFull = 0;
  willsPublished = 0;
  keepAliveExpiries = 0;
  takeovers = 0;
  /** Connections closed for malformed input or a protocol violation. */
  protocolErrors = 0;
  bytesIn = 0;
  bytesOut = 0;
}

export class VirtualBroker {
  readonly clock: Clock;
  readonly host: string;
  readonly port: number;
  readonly stats = new BrokerStats();
  /** Sees every routed PUBLISH (clientId undefined for internal publishes). */
  onPublish: ((topic: string, payload: Uint8Array, qos: number, retain: boolean, clientId: string | undefined) => void) | undefined;
  /**
   * Sees every PUBLISH a client sends, as it arrived (DUP flag and packet id included), before
   * routing: how tests check what reached the broker, duplicates and all.
   */
  onReceive: ((clientId: string, packet: PublishPacket) => void) | undefined;
  /** Off by default; see BrokerFaults. */
  readonly faults: BrokerFaults = {};
  /** Connection lifecycle, for fleet bookkeeping ("devices online"). */
  onEvent: ((e: BrokerEvent) => void) | undefined;

  private readonly topics = new Map<string, TopicEntry>();
  private readonly scratch = new Map<Subscriber, number>();
  /**
   * PUBACK and PINGRESP, one per telemetry message, are built in these instead of a new array
   * each: the virtual socket copies what it is given before write() returns.
   */
  private readonly pubackOut = new Uint8Array([PUBACK_FIRST, 2, 0, 0]);
  private readonly pingrespOut = encodePingresp();
  private readonly sessions = new Map<string, Session>();
  private readonly conns = new Set<Connection>();
  private readonly trie = new SubscriptionTrie<Subscriber>();
  private readonly retained = new RetainedStore();
  private unlisten: (() => void) | undefined;
  private autoId = 0;
  private readonly window: number;
  private readonly maxQueued: number;
  private readonly maxPacketSize: number;
  private readonly connectTimeoutMs: number;

  constructor(
    readonly network: VirtualNetwork,
    private readonly options: VirtualBrokerOptions = {},
  ) {
    this.clock = network.clock;
    this.host = options.host ?? DEFAULT_HOST;
    this.port = options.port ?? DEFAULT_PORT;
    this.window = Math.max(1, options.inflightWindow ?? DEFAULT_INFLIGHT_WINDOW);
    this.maxQueued = Math.max(0, options.maxQueued ?? DEFAULT_MAX_QUEUED);
    this.maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  // ---------------------------------------------------------------- lifecycle and faults
  get running(): boolean {
    return this.unlisten !== undefined;
  }

  /** Starts listening (idempotent). */
  start(): this {
    if (this.unlisten === undefined) {
      this.unlisten = this.network.listen(this.host, this.port, (socket) => this.accept(socket));
    }
    return this;
  }

  /**
   * Stops listening (connects are refused) and drops every link. Sessions and retained
   * messages stay, as with Mosquitto's persistence; wills are not sent unless asked.
   */
  stop(options: { publishWills?: boolean } = {}): void {
    if (this.unlisten === undefined) return;
    this.unlisten();
    this.unlisten = undefined;
    for (const conn of [...this.conns]) {
      dropLink(conn.socket.link); // the client hears "broker stopped", not a FIN
      this.close(conn, "broker stopped", options.publishWills === true);
    }
  }

  /** stop() then start(); `loseSessions` also forgets retained messages unless told otherwise. */
  restart(options: { loseSessions: boolean; loseRetained?: boolean; publishWills?: boolean }): void {
    this.stop({ publishWills: options.publishWills });
    if (options.loseSessions) {
      for (const s of this.sessions.values()) this.dropSubscriptions(s);
      this.sessions.clear();
    }
    if (options.loseRetained ?? options.loseSessions) this.retained.clear();
    this.start();
  }

  // ---------------------------------------------------------------- inspection
  get sessionCount(): number {
    return this.sessions.size;
  }
  get retainedCount(): number {
    return this.retained.size;
  }
  get subscriptionCount(): number {
    return this.trie.size;
  }
  isConnected(clientId: string): boolean {
    return this.sessions.get(clientId)?.conn !== undefined;
  }
  /** A session's state, for tests and fleet reports. */
  sessionInfo(clientId: string): { connected: boolean; clean: boolean; subscriptions: string[]; inflight: number; queued: number } | undefined {
    const s = this.sessions.get(clientId);
    if (s === undefined) return undefined;
    return { connected: s.conn !== undefined, clean: s.clean, subscriptions: s.subs ? [...s.subs.keys()] : [], inflight: s.inflightCount, queued: s.queuedCount };
  }
  /** PUBLISHes routed to `topic` so far. */
  publishCount(topic: string): number {
    return this.topics.get(topic)?.count ?? 0;
  }
  /** Topic → PUBLISHes routed to it (a snapshot). */
  publishCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [t, e] of this.topics) out.set(t, e.count);
    return out;
  }
  retainedMessage(topic: string): { payload: Uint8Array; qos: number } | undefined {
    const m = this.retained.get(topic);
    return m && { payload: m.payload, qos: m.qos };
  }

  // ---------------------------------------------------------------- the backend's side
  /** Subscribes a server-side handler; returns the unsubscribe function. Throws on a bad filter. */
  subscribeInternal(filter: string, handler: InternalHandler, options: { qos?: QoS; retained?: boolean } = {}): () => void {
    if (!validFilter(filter)) throw new Error(`broker: invalid topic filter "${filter}"`);
    const sub = new InternalSub(filter, handler);
    this.trie.add(filter, sub, options.qos ?? 1);
    if (options.retained !== false) {
      for (const m of this.retained.match(filter)) {
        this.stats.delivered++;
        handler(m.topic, m.payload, Math.min(m.qos, options.qos ?? 1) as QoS, true);
      }
    }
    return () => void this.trie.remove(filter, sub);
  }

  /** Publishes as the broker itself; false while stopped. Throws on a bad topic. */
  publishInternal(topic: string, payload: Uint8Array, options: { qos?: number; retain?: boolean } = {}): boolean {
    if (topic.length === 0 || topic.includes("+") || topic.includes("#")) throw new Error(`broker: invalid topic "${topic}"`);
    if (!this.running) return false;
    this.route(topic, payload, options.qos ?? 0, options.retain === true, undefined);
    return true;
  }

  // ---------------------------------------------------------------- connections (called by Connection)
  private accept(socket: VirtualSocket): Connection {
    this.stats.accepted++;
    const conn = new Connection(this, socket, this.maxPacketSize);
    this.conns.add(conn);
    conn.graceMs = this.connectTimeoutMs;
    this.arm(conn, this.connectTimeoutMs);
    return conn;
  }

  /** @internal */
  onBytes(conn: Connection, bytes: Uint8Array): void {
    this.stats.bytesIn += bytes.length;
    conn.lastIn = this.clock.now();
    conn.parser.push(bytes);
  }

  /** @internal The network closed the link (peer FIN, reset, drop): the will goes out. */
  onSocketClosed(conn: Connection, reason: string): void {
    this.close(conn, `socket closed: ${reason}`, true);
  }

  /** @internal */
  onMalformed(conn: Connection, reason: string): void {
    if (conn.state === CLOSED) return;
    this.stats.protocolErrors++;
    this.close(conn, reason, true);
  }

  /** @internal */
  onPacket(conn: Connection, p: Packet): void {
    if (conn.state === CLOSED) return; // packets after a close in the same chunk
    if (conn.state === AWAITING_CONNECT) {
      if (p.type === "connect") return this.onConnect(conn, p);
      this.stats.protocolErrors++;
      return this.close(conn, `protocol: ${p.type} before CONNECT`, false);
    }
    const s = conn.session!;
    switch (p.type) {
      case "publish":
        return this.onClientPublish(conn, s, p);
      case "puback":
        if (s.ack(p.packetId)) this.pump(s);
        return;
      case "pubrel":
        s.qos2?.delete(p.packetId);
        return this.write(conn, encodePubcomp(p.packetId));
      case "subscribe":
        return this.onSubscribe(conn, s, p.packetId, p.subscriptions);
      case "unsubscribe":
        for (const f of p.topics) {
          if (s.subs?.delete(f)) this.trie.remove(f, s);
        }
        return this.write(conn, encodeUnsuback(p.packetId));
      case "pingreq":
        if (this.faults.noPingresp === true) return;
        return this.write(conn, this.pingrespOut);
      case "disconnect":
        return this.close(conn, "client sent DISCONNECT", false);
      case "pubrec":
      case "pubcomp":
        return; // we never send QoS 2; ignore strays as Mosquitto does
      default:
        // A second CONNECT (§3.1.0-2) or a server-only packet.
        this.stats.protocolErrors++;
        return this.close(conn, `protocol: unexpected ${p.type.toUpperCase()}`, true);
    }
  }

  private onConnect(conn: Connection, p: Extract<Packet, { type: "connect" }>): void {
    this.stats.connectsReceived++;
    if (this.faults.noConnack === true) return; // still AWAITING_CONNECT: the connect timer runs on
    if (p.protocolName !== PROTOCOL_NAME) {
      // §3.1.2-1: not MQTT; close without a CONNACK.
      this.stats.protocolErrors++;
      return this.close(conn, `protocol: name "${p.protocolName}"`, false);
    }
    let clientId = p.clientId;
    if (p.protocolLevel !== PROTOCOL_LEVEL) return this.refuse(conn, clientId, RC_BAD_PROTOCOL);
    if (clientId.length === 0) {
      if (!p.cleanSession) return this.refuse(conn, clientId, RC_ID_REJECTED); // §3.1.3-8
      clientId = `auto-${++this.autoId}`;
    }
    let rc = this.faults.refuseCode ?? RC_ACCEPTED;
    if (rc !== RC_ACCEPTED) return this.refuse(conn, clientId, rc);
    try {
      rc = this.options.authenticate?.(clientId, p.username, p.password) ?? RC_ACCEPTED;
    } catch {
      rc = RC_SERVER_UNAVAILABLE; // a broken hook must not take the broker down
    }
    if (rc !== RC_ACCEPTED) return this.refuse(conn, clientId, rc);

    let session = this.sessions.get(clientId);
    if (session?.conn !== undefined) {
      // §3.1.4-2: the existing client is disconnected. Mosquitto 2.0 does not send its will
      // (aedes does); we follow Mosquitto (test/broker/conformance.test.ts pins both).
      this.stats.takeovers++;
      this.close(session.conn, "session taken over", false);
      session = this.sessions.get(clientId); // a clean session went with its connection
    }
    let sessionPresent = false;
    if (session !== undefined && (p.cleanSession || session.clean)) {
      this.dropSubscriptions(session);
      this.sessions.delete(clientId);
      session = undefined;
    }
    if (session === undefined) {
      session = new Session(clientId, p.cleanSession);
      this.sessions.set(clientId, session);
    } else sessionPresent = true;

    session.conn = conn;
    conn.session = session;
    conn.will = p.will;
    conn.state = CONNECTED;
    conn.graceMs = p.keepAlive * 1500;
    if (conn.timer !== undefined) this.clock.clearTimeout(conn.timer);
    conn.timer = undefined;
    if (conn.graceMs > 0) this.arm(conn, conn.graceMs);
    this.stats.connects++;
    this.stats.connected++;
    this.write(conn, encodeConnack(sessionPresent, RC_ACCEPTED));
    this.onEvent?.({ type: "connected", clientId, sessionPresent });
    // §4.4: unacknowledged QoS 1 messages go again, with DUP, then the queue.
    if (session.inflight !== undefined) {
      for (const [id, d] of session.inflight) {
        this.stats.redelivered++;
        this.sendPublish(conn, d, 1, id, true);
      }
    }
    this.pump(session);
  }

  private refuse(conn: Connection, clientId: string, rc: number): void {
    this.stats.refused++;
    this.write(conn, encodeConnack(false, rc));
    this.onEvent?.({ type: "refused", clientId, returnCode: rc });
    this.close(conn, `refused: ${CONNACK_REASONS[rc] ?? `code ${rc}`}`, false);
  }

  /** `p.payload` is the parser's view into a received chunk (Connection): route copies what it keeps. */
  private onClientPublish(conn: Connection, s: Session, p: PublishPacket): void {
    this.onReceive?.(s.clientId, p);
    if (p.qos === 2) {
      // QoS 2 in: deliver once on PUBLISH, remember the id until PUBREL (§4.3.3 method B).
      s.qos2 ??= new Set();
      if (!s.qos2.has(p.packetId!)) {
        s.qos2.add(p.packetId!);
        this.route(p.topic, p.payload, 2, p.retain, s.clientId, true);
      }
      return this.write(conn, encodePubrec(p.packetId!));
    }
    this.route(p.topic, p.payload, p.qos, p.retain, s.clientId, true);
    if (p.qos === 1 && conn.state === CONNECTED && this.faults.noPuback !== true) this.writePuback(conn, p.packetId!);
  }

  private onSubscribe(conn: Connection, s: Session, packetId: number, subs: { topic: string; qos: number }[]): void {
    // Mosquitto (and aedes) close the connection on an invalid filter rather than SUBACK 0x80.
    for (const { topic } of subs) {
      if (!validFilter(topic)) {
        this.stats.protocolErrors++;
        return this.close(conn, `protocol: invalid topic filter "${topic}"`, true);
      }
    }
    const codes: number[] = [];
    for (const { topic, qos } of subs) {
      if (this.faults.refuseSubscribe?.(topic) === true) {
        codes.push(SUBACK_FAILURE);
        continue;
      }
      const granted = qos > 1 ? 1 : qos; // we grant at most QoS 1
      s.subs ??= new Map();
      s.subs.set(topic, granted);
      this.trie.add(topic, s, granted);
      codes.push(granted);
    }
    this.write(conn, encodeSuback(packetId, codes));
    // §3.3.1-6: retained messages follow the SUBACK, with RETAIN set.
    for (let i = 0; i < subs.length; i++) {
      if (codes[i] === SUBACK_FAILURE) continue;
      for (const m of this.retained.match(subs[i].topic)) {
        this.deliver(s, { topic: m.topic, payload: m.payload, retain: true }, Math.min(m.qos, codes[i]));
      }
    }
  }

  // ---------------------------------------------------------------- routing
  /**
   * `borrowed`: the payload is a view into a received chunk (a client's PUBLISH); it is copied first
   * when something may keep it (a retained message, a client session's in-flight or queued message).
   */
  private route(topic: string, payload: Uint8Array, qos: number, retain: boolean, from: string | undefined, borrowed = false): void {
    this.stats.published++;
    let entry = this.topics.get(topic);
    if (entry === undefined) {
      entry = new TopicEntry();
      this.topics.set(topic, entry);
    }
    entry.count++;
    if (borrowed && (retain || entry.sessions > 0 || entry.version !== this.trie.version)) payload = payload.slice();
    this.onPublish?.(topic, payload, qos, retain, from);
    if (retain) this.retained.set(topic, payload, qos > 1 ? 1 : qos);
    if (entry.version !== this.trie.version) this.rematch(topic, entry);
    // The arrays are replaced, never mutated, so a handler that (un)subscribes is safe here.
    const subs = entry.subs;
    const qoss = entry.qos;
    let d: Delivery | undefined;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i];
      const q = Math.min(qos, qoss[i], 1);
      if (sub instanceof InternalSub) {
        this.stats.delivered++;
        sub.handler(topic, payload, q as QoS, false);
      } else {
        // §3.3.1-9: live deliveries carry RETAIN 0; one Delivery is shared by every recipient.
        d ??= { topic, payload, retain: false };
        this.deliver(sub, d, q);
      }
    }
  }

  private rematch(topic: string, entry: TopicEntry): void {
    const m = this.trie.match(topic, this.scratch);
    entry.subs = [...m.keys()];
    entry.qos = [...m.values()];
    entry.sessions = entry.subs.filter((sub) => sub instanceof Session).length;
    entry.version = this.trie.version;
    m.clear();
  }

  private deliver(s: Session, d: Delivery, qos: number): void {
    const conn = s.conn;
    if (qos === 0) {
      // Mosquitto does not queue QoS 0 for offline clients (queue_qos0_messages false).
      if (conn !== undefined) this.sendPublish(conn, d, 0, 0, false);
      return;
    }
    if (conn !== undefined && s.queuedCount === 0 && s.inflightCount < this.window) {
      this.sendPublish(conn, d, 1, s.markInflight(d), false);
    } else if (!s.enqueue(d, this.maxQueued)) this.stats.droppedQueueFull++;
  }

  /** Fills the in-flight window from the queue. */
  private pump(s: Session): void {
    const conn = s.conn;
    if (conn === undefined) return;
    for (let d = s.nextQueued(this.window); d !== undefined; d = s.nextQueued(this.window)) {
      this.sendPublish(conn, d, 1, s.markInflight(d), false);
    }
  }

  private sendPublish(conn: Connection, d: Delivery, qos: QoS, packetId: number, dup: boolean): void {
    this.stats.delivered++;
    this.write(conn, encodePublish({ topic: d.topic, payload: d.payload, qos, retain: d.retain, dup, packetId: qos > 0 ? packetId : undefined }));
  }

  private publishWill(clientId: string, will: Will): void {
    this.stats.willsPublished++;
    this.route(will.topic, will.payload, will.qos, will.retain, clientId);
  }

  // ---------------------------------------------------------------- closing
  /** Ends a connection once: detaches its session, sends the will if asked, closes the socket. */
  private close(conn: Connection, reason: string, sendWill: boolean): void {
    if (conn.state === CLOSED) return;
    const wasConnected = conn.state === CONNECTED;
    conn.state = CLOSED;
    this.conns.delete(conn);
    if (conn.timer !== undefined) this.clock.clearTimeout(conn.timer);
    conn.timer = undefined;
    conn.socket.close();
    if (!wasConnected) return;
    this.stats.connected--;
    const s = conn.session!;
    if (s.conn === conn) {
      s.conn = undefined;
      if (s.clean) {
        this.dropSubscriptions(s);
        this.sessions.delete(s.clientId);
      }
    }
    const will = sendWill ? conn.will : undefined;
    conn.will = undefined;
    this.onEvent?.({ type: "disconnected", clientId: s.clientId, reason, willSent: will !== undefined });
    if (will !== undefined) this.publishWill(s.clientId, will);
  }

  private dropSubscriptions(s: Session): void {
    if (s.subs === undefined) return;
    for (const f of s.subs.keys()) this.trie.remove(f, s);
    s.subs = undefined;
  }

  // ---------------------------------------------------------------- keep-alive
  private arm(conn: Connection, ms: number): void {
    conn.timer = this.clock.setTimeout(conn.checkAlive, ms);
  }

  /** @internal Fires at most once per grace period; reschedules to the last byte's deadline. */
  checkAlive(conn: Connection): void {
    conn.timer = undefined;
    if (conn.state === CLOSED) return;
    if (conn.state === AWAITING_CONNECT) return this.close(conn, "no CONNECT in time", false);
    const idle = this.clock.now() - conn.lastIn;
    if (idle >= conn.graceMs) {
      this.stats.keepAliveExpiries++;
      return this.close(conn, "keep-alive expired", true);
    }
    this.arm(conn, conn.graceMs - idle);
  }

  // ---------------------------------------------------------------- output
  private write(conn: Connection, bytes: Uint8Array): void {
    this.stats.bytesOut += bytes.length;
    conn.socket.write(bytes);
  }

  private writePuback(conn: Connection, id: number): void {
    this.stats.bytesOut += 4;
    const out = this.pubackOut;
    out[2] = id >> 8;
    out[3] = id & 0xff;
    conn.socket.write(out);
  }
}

/** Drops the whole link (both ends see a close), as when the broker process dies. */
function dropLink(link: VirtualLink): void {
  link.drop("broker stopped");
}

/**
 * A small scripted MQTT 3.1.1 broker on the virtual network, built on our own codec, for
 * fault tests under the virtual clock. Node-free so XS scenarios can bundle it.
 * It keeps sessions (subscriptions + undelivered QoS 1), retained messages and wills,
 * records every PUBLISH it receives, and has knobs for the faults the suite needs.
 */
import type { SocketHandler } from "../../device/ports";
import {
  encodeConnack, encodePingresp, encodePuback, encodePublish, encodeSuback, encodeUnsuback,
  type Packet, type Will,
} from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import type { VirtualNetwork, VirtualSocket } from "../../host-sim/virtual/network";

export interface Received {
  clientId: string;
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: boolean;
  dup: boolean;
  packetId?: number;
  at: number;
}

interface Session {
  subs: Map<string, number>;
  /** QoS 1 messages to the client not yet PUBACKed, by id. */
  outbound: Map<number, { topic: string; payload: Uint8Array; retain: boolean }>;
  nextId: number;
}

interface Conn {
  socket: VirtualSocket;
  clientId?: string;
  will?: Will;
  graceful: boolean;
}

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class FakeBroker {
  /** Every PUBLISH received from clients, in arrival order (DUPs included). */
  readonly received: Received[] = [];
  readonly retained = new Map<string, { payload: Uint8Array; qos: number }>();
  readonly sessions = new Map<string, Session>();
  private readonly conns = new Set<Conn>();
  private stopListening: (() => void) | undefined;
  connects = 0;
  // ---- fault knobs
  /** CONNACK return code to answer with (0 = accept). */
  refuseCode = 0;
  /** Never answer CONNECT. */
  silentConnack = false;
  answerPings = true;
  ackPublishes = true;
  /** Credentials to require, when set. */
  credentials: { username: string; password: string } | undefined;

  constructor(readonly net: VirtualNetwork, readonly host = "broker", readonly port = 1883) {
    this.start();
  }

  start(): void {
    if (this.stopListening) return;
    this.stopListening = this.net.listen(this.host, this.port, (socket) => this.accept(socket));
  }

  /** Stops listening and drops every connection (wills fire as for a crash). */
  stop(): void {
    this.stopListening?.();
    this.stopListening = undefined;
    for (const c of [...this.conns]) this.drop(c);
  }

  /** A restart that loses all session state (an in-memory broker). */
  restart(): void {
    this.stop();
    this.sessions.clear();
    this.start();
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Publishes from the "backend" to subscribers. */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain = false): void {
    this.route(topic, payload, qos, retain);
  }

  private accept(socket: VirtualSocket): SocketHandler {
    const conn: Conn = { socket, graceful: false };
    this.conns.add(conn);
    const parser = new MqttParser((p) => this.onPacket(conn, p), () => this.drop(conn), 1 << 20);
    return {
      onConnect() {},
      onData: (b) => parser.push(b),
      onClose: () => this.lost(conn),
    };
  }

  private drop(conn: Conn): void {
    conn.socket.close();
    this.lost(conn);
  }

  private lost(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    if (conn.will && !conn.graceful) this.route(conn.will.topic, conn.will.payload, conn.will.qos === 0 ? 0 : 1, conn.will.retain);
  }

  private send(conn: Conn, bytes: Uint8Array): void {
    conn.socket.write(bytes);
  }

  private onPacket(conn: Conn, p: Packet): void {
    switch (p.type) {
      case "connect": {
        this.connects++;
        if (this.silentConnack) return;
        let code = this.refuseCode;
        if (code === 0 && this.credentials) {
          const pw = p.password ? String.fromCharCode(...p.password) : undefined;
          if (p.username !== this.credentials.username || pw !== this.credentials.password) code = 4;
        }
        if (code !== 0) {
          this.send(conn, encodeConnack(false, code));
          return this.drop(conn);
        }
        // Session takeover: an older connection with the same id is closed.
        for (const c of this.conns) if (c !== conn && c.clientId === p.clientId) this.drop(c);
        conn.clientId = p.clientId;
        conn.will = p.will;
        let present = false;
        if (p.cleanSession) this.sessions.delete(p.clientId);
        else if (this.sessions.has(p.clientId)) present = true;
        if (!this.sessions.has(p.clientId) || p.cleanSession) {
          this.sessions.set(p.clientId, { subs: new Map(), outbound: new Map(), nextId: 1 });
        }
        this.send(conn, encodeConnack(present, 0));
        // Resend undelivered QoS 1 with DUP.
        const s = this.sessions.get(p.clientId)!;
        for (const [id, m] of s.outbound) this.send(conn, encodePublish({ ...m, qos: 1, dup: true, packetId: id }));
        return;
      }
      case "publish": {
        if (!conn.clientId) return this.drop(conn);
        this.received.push({
          clientId: conn.clientId, topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup,
          packetId: p.packetId, at: this.net.clock.now(),
        });
        if (p.qos === 1 && this.ackPublishes) this.send(conn, encodePuback(p.packetId!));
        this.route(p.topic, p.payload, p.qos === 0 ? 0 : 1, p.retain);
        return;
      }
      case "puback": {
        const s = conn.clientId ? this.sessions.get(conn.clientId) : undefined;
        s?.outbound.delete(p.packetId);
        return;
      }
      case "subscribe": {
        const s = conn.clientId ? this.sessions.get(conn.clientId) : undefined;
        if (!s) return this.drop(conn);
        const codes = p.subscriptions.map((x) => Math.min(x.qos, 1));
        for (const x of p.subscriptions) s.subs.set(x.topic, Math.min(x.qos, 1));
        this.send(conn, encodeSuback(p.packetId, codes));
        for (const [topic, r] of this.retained) {
          for (const x of p.subscriptions) {
            if (topicMatches(x.topic, topic)) this.deliver(conn.clientId!, s, topic, r.payload, Math.min(r.qos, x.qos), true);
          }
        }
        return;
      }
      case "unsubscribe": {
        const s = conn.clientId ? this.sessions.get(conn.clientId) : undefined;
        for (const t of p.topics) s?.subs.delete(t);
        this.send(conn, encodeUnsuback(p.packetId));
        return;
      }
      case "pingreq":
        if (this.answerPings) this.send(conn, encodePingresp());
        return;
      case "disconnect":
        conn.graceful = true;
        return this.drop(conn);
      default:
        return this.drop(conn);
    }
  }

  private route(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean): void {
    if (retain) {
      if (payload.length === 0) this.retained.delete(topic);
      else this.retained.set(topic, { payload, qos });
    }
    for (const [clientId, s] of this.sessions) {
      let best = -1;
      for (const [f, q] of s.subs) if (topicMatches(f, topic)) best = Math.max(best, q);
      if (best >= 0) this.deliver(clientId, s, topic, payload, Math.min(best, qos), false);
    }
  }

  private deliver(clientId: string, s: Session, topic: string, payload: Uint8Array, qos: number, retain: boolean): void {
    const conn = [...this.conns].find((c) => c.clientId === clientId);
    if (qos === 0) {
      if (conn) this.send(conn, encodePublish({ topic, payload, qos: 0, retain }));
      return;
    }
    const id = s.nextId;
    s.nextId = id === 0xffff ? 1 : id + 1;
    s.outbound.set(id, { topic, payload, retain });
    if (conn) this.send(conn, encodePublish({ topic, payload, qos: 1, retain, packetId: id }));
  }
}

/**
 * A deliberately small MQTT 3.1.1 test client on the project's codec and parser (real
 * bytes), used to probe brokers packet by packet. Unlike the device client it never
 * retries or hides anything: every packet received is recorded in order.
 */
import {
  encodeConnect, encodeDisconnect, encodePacket, encodePuback, encodePublish, encodeSubscribe,
  encodeUnsubscribe, type Packet, type PacketQoS, type PublishPacket, type Will,
} from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import type { Driver, RawSocket } from "./drivers";

export const WAIT_MS = 3000;
const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string) => enc.encode(s);
export const text = (b: Uint8Array) => dec.decode(b);

export interface ConnectOptions {
  clientId: string;
  cleanSession?: boolean;
  keepAlive?: number;
  will?: Will;
  username?: string;
  password?: Uint8Array;
}

export class TestClient {
  /** Every packet received, in order. */
  readonly received: Packet[] = [];
  /** Index of the next publish not yet taken by nextPublish(). */
  private cursor = 0;
  /** Set once the connection closed, with the reason. */
  closedReason: string | undefined;
  up = false;
  /** PUBACK incoming QoS 1 publishes automatically. */
  autoAck = true;
  private socket: RawSocket | undefined;
  private nextId = 1;
  parseError: string | undefined;

  constructor(readonly driver: Driver) {}

  /** Opens the socket and waits until it is up (or refused). */
  async open(): Promise<this> {
    const parser = new MqttParser(
      (p) => this.onPacket(p),
      (reason) => {
        this.parseError = reason;
      },
      { maxPacketSize: 1024 * 1024 },
    );
    this.socket = this.driver.open({
      onConnect: () => {
        this.up = true;
      },
      onData: (b) => parser.push(b),
      onClose: (reason) => {
        this.closedReason = reason;
      },
    });
    if (!(await this.driver.waitFor(() => this.up || this.closedReason !== undefined, WAIT_MS))) throw new Error("socket never opened");
    return this;
  }

  private onPacket(p: Packet): void {
    this.received.push(p);
    if (p.type === "publish" && p.qos === 1 && this.autoAck) this.sendRaw(encodePuback(p.packetId!));
  }

  sendRaw(b: Uint8Array): void {
    this.socket?.write(b);
  }

  send(p: Packet): void {
    this.sendRaw(encodePacket(p));
  }

  id(): number {
    const id = this.nextId;
    this.nextId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  /** Sends CONNECT and returns the CONNACK (throws if none arrives). */
  async connect(o: ConnectOptions): Promise<{ sessionPresent: boolean; returnCode: number }> {
    if (!this.up) await this.open();
    this.sendRaw(encodeConnect({ clientId: o.clientId, cleanSession: o.cleanSession ?? true, keepAlive: o.keepAlive ?? 60, will: o.will, username: o.username, password: o.password }));
    const p = await this.waitPacket("connack");
    return p as { sessionPresent: boolean; returnCode: number };
  }

  async subscribe(filter: string, qos: PacketQoS = 1): Promise<number[]> {
    const id = this.id();
    this.sendRaw(encodeSubscribe(id, [{ topic: filter, qos }]));
    const p = await this.waitPacket("suback", (x) => x.type === "suback" && x.packetId === id);
    return (p as { returnCodes: number[] }).returnCodes;
  }

  async unsubscribe(filter: string): Promise<void> {
    const id = this.id();
    this.sendRaw(encodeUnsubscribe(id, [filter]));
    await this.waitPacket("unsuback", (x) => x.type === "unsuback" && x.packetId === id);
  }

  /** Publishes; at QoS 1 waits for the PUBACK. */
  async publish(topic: string, payload: Uint8Array | string, o: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const qos = o.qos ?? 0;
    const id = qos > 0 ? this.id() : undefined;
    this.sendRaw(encodePublish({ topic, payload: typeof payload === "string" ? bytes(payload) : payload, qos, retain: o.retain, packetId: id }));
    if (qos === 1) await this.waitPacket("puback", (x) => x.type === "puback" && x.packetId === id);
  }

  async ping(): Promise<void> {
    const before = this.received.filter((p) => p.type === "pingresp").length;
    this.send({ type: "pingreq" });
    if (!(await this.driver.waitFor(() => this.received.filter((p) => p.type === "pingresp").length > before, WAIT_MS))) {
      throw new Error("no PINGRESP");
    }
  }

  /** Clean DISCONNECT, then close. */
  async disconnect(): Promise<void> {
    this.sendRaw(encodeDisconnect());
    await this.driver.waitFor(() => this.closedReason !== undefined, 200);
    this.socket?.close();
  }

  /** Drops the connection without DISCONNECT. */
  abort(): void {
    this.socket?.close();
  }

  async waitPacket(type: Packet["type"], pred: (p: Packet) => boolean = (p) => p.type === type): Promise<Packet> {
    let found: Packet | undefined;
    const ok = await this.driver.waitFor(() => (found = this.received.find(pred)) !== undefined || this.closedReason !== undefined, WAIT_MS);
    found ??= this.received.find(pred);
    if (!ok || found === undefined) throw new Error(`no ${type} (closed: ${this.closedReason ?? "no"}; got ${this.received.map((p) => p.type).join(",")})`);
    return found;
  }

  /** The next publish received that nextPublish() has not returned yet. */
  async nextPublish(maxMs = WAIT_MS): Promise<PublishPacket | undefined> {
    const pubs = () => this.received.filter((p) => p.type === "publish") as PublishPacket[];
    await this.driver.waitFor(() => pubs().length > this.cursor, maxMs);
    const all = pubs();
    return this.cursor < all.length ? all[this.cursor++] : undefined;
  }

  publishes(): PublishPacket[] {
    return this.received.filter((p) => p.type === "publish") as PublishPacket[];
  }

  async waitClosed(maxMs = WAIT_MS): Promise<boolean> {
    return this.driver.waitFor(() => this.closedReason !== undefined, maxMs);
  }
}

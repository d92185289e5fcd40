/**
 * One client session (§4.1): subscriptions, QoS 1 messages in flight to the client, and
 * the queue behind the in-flight window. A persistent session (CleanSession 0) outlives
 * its connection. Plain fields and prototype methods only: a fleet holds 10,000 of these,
 * so the maps are created on first use and there are no per-session closures.
 */
import type { Connection } from "./connection";

/** A QoS 1 message on its way to one client (shared between recipients when possible). */
export interface Delivery {
  topic: string;
  payload: Uint8Array;
  /** Set only for retained messages sent because of a SUBSCRIBE (§3.3.1.3). */
  retain: boolean;
}

const MAX_PACKET_ID = 0xffff;

export class Session {
  /** The live connection, if any. */
  conn: Connection | undefined = undefined;
  /** Filter → granted QoS. */
  subs: Map<string, number> | undefined = undefined;
  /** Sent to the client, not yet PUBACKed: packet id → message, in send order. */
  inflight: Map<number, Delivery> | undefined = undefined;
  /** Waiting for a free in-flight slot (or for the client to come back). */
  queue: Delivery[] | undefined = undefined;
  /** Incoming QoS 2 packet ids between PUBLISH and PUBREL (so a resend is not routed twice). */
  qos2: Set<number> | undefined = undefined;
  private nextId = 1;

  constructor(
    readonly clientId: string,
    /** CleanSession 1: discarded when the connection ends. */
    readonly clean: boolean,
  ) {}

  get inflightCount(): number {
    return this.inflight === undefined ? 0 : this.inflight.size;
  }

  get queuedCount(): number {
    return this.queue === undefined ? 0 : this.queue.length;
  }

  /** A packet id not in flight (§2.3.1: ids are unique among unacknowledged packets). */
  allocId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === MAX_PACKET_ID ? 1 : id + 1;
      if (this.inflight === undefined || !this.inflight.has(id)) return id;
    }
  }

  /** Queues a QoS 1 message; false when the queue is full (the message is dropped). */
  enqueue(d: Delivery, maxQueued: number): boolean {
    this.queue ??= [];
    if (this.queue.length >= maxQueued) return false;
    this.queue.push(d);
    return true;
  }

  /** Records a message as sent; returns its packet id. */
  markInflight(d: Delivery): number {
    const id = this.allocId();
    this.inflight ??= new Map();
    this.inflight.set(id, d);
    return id;
  }

  /** PUBACK: frees the slot; false for an id we did not send. */
  ack(id: number): boolean {
    return this.inflight !== undefined && this.inflight.delete(id);
  }

  /** Takes the next queued message while the window has room. */
  nextQueued(window: number): Delivery | undefined {
    if (this.queue === undefined || this.queue.length === 0 || this.inflightCount >= window) return undefined;
    const d = this.queue.shift();
    if (this.queue.length === 0) this.queue = undefined;
    return d;
  }
}

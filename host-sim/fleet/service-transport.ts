/**
 * The fleet service on host-sim's virtual broker, under the virtual clock: the transport that
 * `tether sim` (scenario key `rollouts`) hands to service/FleetService.
 *
 * The broker side of the service's persistent MQTT session lives in VirtualServiceSession:
 * messages routed to the service wait there until a batch is delivered (the PUBACK point), so
 * a service that is killed between deliveries gets them again when a new one attaches, as a
 * real broker redelivers unacknowledged QoS 1 messages to a persistent session.
 */
import type { VirtualBroker } from "../broker/virtual-broker";
import type { BatchHandler, InboundMessage, PublishOptions, ServiceTransport } from "../../service/transport/transport";

interface TickClock {
  setTimeout(fn: () => void, ms: number): unknown;
}

/** Deliver at most this many messages per batch (one SQLite transaction). */
const MAX_BATCH = 2000;

export class VirtualServiceSession {
  private pending: InboundMessage[] = [];
  private attached: VirtualServiceTransport | undefined;
  private unsubscribe: (() => void)[] = [];
  private filters: string[] = [];

  constructor(
    readonly broker: VirtualBroker,
    private readonly clock: TickClock,
  ) {}

  /** A new service connection on this session (the previous one, if any, is dropped). */
  attach(): VirtualServiceTransport {
    this.attached?.detach();
    const t = new VirtualServiceTransport(this);
    this.attached = t;
    return t;
  }

  /** @internal */ subscribe(filters: string[], t: VirtualServiceTransport): void {
    if (this.filters.length === 0) {
      this.filters = filters;
      for (const f of filters) {
        this.unsubscribe.push(this.broker.subscribeInternal(f, (topic, payload, _qos, retain) => this.route(topic, payload, retain), { qos: 1 }));
      }
    } else {
      // Reattached: the subscription persisted, and the broker sends the retained messages again.
      for (const f of filters) for (const m of this.retainedFor(f)) this.pending.push(m);
    }
    if (this.pending.length > 0) this.schedule(t);
  }

  private retainedFor(filter: string): InboundMessage[] {
    const out: InboundMessage[] = [];
    const un = this.broker.subscribeInternal(filter, (topic, payload) => out.push({ topic, payload, retain: true }), { qos: 1 });
    un();
    return out;
  }

  /** @internal */ detach(t: VirtualServiceTransport): void {
    if (this.attached === t) this.attached = undefined;
  }

  private route(topic: string, payload: Uint8Array, retain: boolean): void {
    this.pending.push({ topic, payload, retain });
    if (this.attached) this.schedule(this.attached);
  }

  private scheduled = false;
  private schedule(t: VirtualServiceTransport): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.clock.setTimeout(() => {
      this.scheduled = false;
      if (this.attached !== t) return;
      while (this.pending.length > 0 && this.attached === t) {
        const batch = this.pending.slice(0, MAX_BATCH);
        t.deliver(batch); // throws = not acknowledged: stays pending
        this.pending.splice(0, batch.length);
      }
    }, 0);
  }

  /** Ends the session for good (the simulation is over). */
  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.attached = undefined;
  }
}

export class VirtualServiceTransport implements ServiceTransport {
  private handler: BatchHandler = () => {};
  private live = true;

  constructor(private readonly session: VirtualServiceSession) {}

  onBatch(handler: BatchHandler): void {
    this.handler = handler;
  }

  async start(filters: string[]): Promise<void> {
    this.session.subscribe(filters, this);
  }

  /** @internal */ deliver(batch: InboundMessage[]): void {
    this.handler(batch);
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): Promise<void> {
    if (!this.live) return Promise.reject(new Error("virtual transport closed"));
    this.session.broker.publishInternal(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
    return Promise.resolve();
  }

  connected(): boolean {
    return this.live;
  }

  /** The service process died (kill -9): nothing more is delivered to it. */
  detach(): void {
    this.live = false;
    this.session.detach(this);
  }

  async close(): Promise<void> {
    this.detach();
  }
}

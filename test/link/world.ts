/**
 * Virtual devices running the real Link against the virtual broker, on one virtual clock.
 * Node-free (XS scenarios reuse it). A device sends a telemetry record every periodMs whose
 * payload is "seq:<n>" with n from a counter kept outside the device (the test's ground
 * truth), so gaps and duplicates are visible at the broker.
 */
import { Link, type LinkEvent, type LinkOptions } from "../../device/core/link/link";
import type { KeyValueStore, Log } from "../../device/ports";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { SeededRandom } from "../../host-sim/virtual/random";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { recordReceived, type Received } from "../mqtt/received";
import { PowerDomain } from "./power";

export const BROKER = { host: "broker", port: 1883 };

export function makeWorld(seed: number) {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  const broker = new VirtualBroker(net, { host: BROKER.host, port: BROKER.port }).start();
  /** Every PUBLISH the broker got from a client, in arrival order (DUPs included). */
  const received = recordReceived(broker);
  const random = new SeededRandom(seed);
  return { clock, net, broker, received, random, seed };
}
export type World = ReturnType<typeof makeWorld>;

const encoder = (s: string) => {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
};
export const asText = (b: Uint8Array) => String.fromCharCode(...b);

export class VirtualDevice {
  readonly kv: KeyValueStore;
  domain!: PowerDomain;
  link!: Link;
  readonly events: { at: number; e: LinkEvent }[] = [];
  readonly logs: string[] = [];
  /** Every seq whose send() returned: the device accepted responsibility for it. */
  readonly accepted: number[] = [];
  private nextSeq = 0;
  private timer: number | undefined;
  boots = 0;
  /** Called with every link event of every boot, before it is recorded (a test's application). */
  onLinkEvent: ((e: LinkEvent) => void) | undefined;

  constructor(
    readonly world: World,
    readonly id: string,
    readonly options: Partial<LinkOptions> = {},
    readonly periodMs = 10_000,
    kv?: KeyValueStore,
  ) {
    this.kv = kv ?? new MemoryKv(64 * 1024);
    this.boot();
  }

  get telemetryTopic(): string {
    return `tether/${this.id}/telemetry`;
  }

  /** Powers on: a fresh Link over the same KV (as after a reset), then starts it. */
  boot(): void {
    this.boots++;
    this.domain = new PowerDomain(this.world.clock, this.world.net);
    const log: Log = (level, message) => this.logs.push(`${this.world.clock.now()} ${level} ${message}`);
    this.link = new Link(
      { clock: this.domain.clock, network: this.domain.network, kv: this.kv, log, random: this.world.random.fork(`${this.id}/${this.boots}`) },
      { deviceId: this.id, brokers: [BROKER], keepAliveSec: 30, ...this.options },
      (e) => {
        this.onLinkEvent?.(e);
        this.events.push({ at: this.world.clock.now(), e });
      },
    );
    this.link.start();
    if (this.periodMs > 0) this.schedule();
  }

  private schedule(): void {
    this.timer = this.domain.clock.setTimeout(() => {
      this.sendOne();
      this.schedule();
    }, this.periodMs);
  }

  sendOne(): void {
    const seq = this.nextSeq++;
    this.link.send(this.telemetryTopic, encoder(`seq:${seq}`));
    this.accepted.push(seq);
  }

  stopTelemetry(): void {
    if (this.timer !== undefined) this.domain.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Power cut now; nothing of this boot runs again. */
  powerCut(): void {
    this.stopTelemetry();
    this.domain.cut();
  }

  states(): string[] {
    return this.events.filter((x) => x.e.type === "state").map((x) => (x.e.type === "state" ? x.e.state : ""));
  }

  /** Telemetry PUBLISHes the broker got from this device. */
  received(): Received[] {
    return this.world.received.filter((r) => r.clientId === this.id && r.topic === this.telemetryTopic);
  }
}

export interface DeliveryReport {
  accepted: number;
  delivered: number;
  missing: number[];
  duplicates: number;
  dropped: number;
  inOrder: boolean;
  dupFlagged: number;
}

/** What reached the broker against what the device accepted. */
export function delivery(dev: VirtualDevice): DeliveryReport {
  const got = dev.received().map((r) => ({ seq: Number(asText(r.payload).slice(4)), dup: r.dup }));
  const firsts: number[] = [];
  const seen = new Set<number>();
  let duplicates = 0;
  let dupFlagged = 0;
  for (const g of got) {
    if (seen.has(g.seq)) duplicates++;
    else {
      seen.add(g.seq);
      firsts.push(g.seq);
    }
    if (g.dup) dupFlagged++;
  }
  let inOrder = true;
  for (let i = 1; i < firsts.length; i++) if (firsts[i] < firsts[i - 1]) inOrder = false;
  return {
    accepted: dev.accepted.length,
    delivered: seen.size,
    missing: dev.accepted.filter((s) => !seen.has(s)),
    duplicates,
    dropped: dev.link.outbox.dropped,
    inOrder,
    dupFlagged,
  };
}

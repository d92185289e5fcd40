/**
 * A virtual network on the virtual clock: devices connect to listeners by host:port,
 * and bytes arrive after a latency, in order; a link with a rate (a device's radio) also holds
 * each chunk for its airtime, so a big transfer takes as long as the radio needs.
 * Faults are explicit and deterministic: drop a link (both ends see a close), blackhole it
 * (half-open: bytes vanish, no FIN), refuse connects (nobody listening), take the network down
 * (connects time out), or cut a transmission part-way through a write.
 */
import type { Network, Socket, SocketHandler, SocketOptions } from "../../device/ports";
import type { VirtualClock } from "./clock";

export const DEFAULT_LATENCY_MS = 5;
/**
 * lwIP's TCP receive window and send buffer in the ESP32 build: Moddable's base sdkconfig
 * (build/devices/esp32/xsProj-esp32/sdkconfig.defaults) sets CONFIG_LWIP_TCP_WND_DEFAULT and
 * CONFIG_LWIP_TCP_SND_BUF_DEFAULT to 8192 (ESP-IDF's own Kconfig default is 5760, 4 × MSS).
 * At most one window is in flight per round trip, so a link carries at most window / RTT.
 */
export const TCP_WINDOW_BYTES = 8192;
/** The window / RTT cap at the default latency (RTT = 2 × DEFAULT_LATENCY_MS): 6.55 Mbit/s. */
export const TCP_WINDOW_CAP_BPS = Math.floor((TCP_WINDOW_BYTES * 8 * 1000) / (2 * DEFAULT_LATENCY_MS));

/**
 * How long `bytes` keep a link of `rateBps` (bit/s) busy, in whole microseconds (rounded up).
 * The network paces a link with it and the battery's power model charges the radio with it
 * (host-sim/battery/power.ts): one number for both.
 */
export function airtimeMicros(bytes: number, rateBps: number): number {
  return Math.ceil((bytes * 8_000_000) / rateBps);
}

/** lwIP gives up a SYN after roughly this long when nothing answers. */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Chunks on the wire are copied into shared slabs of this size: one small view per chunk instead
 * of an ArrayBuffer each (a copy of more than 64 bytes with its own ArrayBuffer costs V8 an
 * off-heap allocation: bench/results/fleet-offheap-copies.json). A slab is freed once no chunk in
 * it is referenced.
 */
const SLAB_BYTES = 16 * 1024;
/** Larger chunks (OTA blocks, big payloads) get an ArrayBuffer of their own. */
const SLAB_MAX_CHUNK = 2048;

export type Side = "client" | "server";

/** What a transmit fault does with one write: deliver only the first bytes, then fail the link. */
export type TransmitFault = undefined | { deliverBytes: number; then: "drop" | "blackhole" };
export type TransmitHook = (link: VirtualLink, from: Side, bytes: Uint8Array) => TransmitFault;

/**
 * What the fleet tells the network about a new link (all optional; a bare connect() is an
 * anonymous link). `device` and `conn` name the link by the device's index and its own count of
 * connections: a name no other device's events can change (the `loss` fault seeds its random
 * stream per link from it: host-sim/fleet/faults.ts).
 */
export interface LinkOptions {
  device?: number;
  conn?: number;
  /**
   * The device radio's rate in bit/s, each direction (host-sim/fleet/radio.ts linkRateBps): each
   * chunk holds its direction for its airtime, in order, so a burst queues behind itself. Absent:
   * the network's `rateBps` (0: unpaced, a chunk takes only the latency).
   */
  rateBps?: number;
}

/** `device` of a link nobody named. */
export const NO_DEVICE = 0xffffffff;

/** The server side's acceptor returns the handler for its end of the new link. */
export type Acceptor = (socket: VirtualSocket, link: VirtualLink) => SocketHandler;

export class VirtualNetwork implements Network {
  latencyMs = DEFAULT_LATENCY_MS;
  /** The rate of links opened without one (bit/s; 0 = unpaced). The fleet gives every device link its radio's. */
  rateBps = 0;
  transmitFault: TransmitHook | undefined;
  /** While true, connects time out and established links are blackholed. */
  private down = false;
  private readonly listeners = new Map<string, Acceptor>();
  private readonly links = new Set<VirtualLink>();
  private nextLinkId = 1;
  connects = 0;
  bytesCarried = 0;
  private slab = new ArrayBuffer(SLAB_BYTES);
  private slabUsed = 0;

  constructor(readonly clock: VirtualClock) {}

  /**
   * @internal A copy of a written chunk for its receiver, who owns it (nobody else holds it; a
   * receiver that keeps bytes for long should copy them, so a slab is not kept for a few bytes).
   */
  copyChunk(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > SLAB_MAX_CHUNK) return bytes.slice();
    if (this.slabUsed + n > SLAB_BYTES) {
      this.slab = new ArrayBuffer(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const copy = new Uint8Array(this.slab, this.slabUsed, n);
    copy.set(bytes);
    this.slabUsed += n;
    return copy;
  }

  listen(host: string, port: number, accept: Acceptor): () => void {
    const key = `${host}:${port}`;
    if (this.listeners.has(key)) throw new Error(`virtual network: ${key} already has a listener`);
    this.listeners.set(key, accept);
    return () => {
      if (this.listeners.get(key) === accept) this.listeners.delete(key);
    };
  }

  connect(options: SocketOptions, handler: SocketHandler, linkOptions?: LinkOptions): Socket {
    this.connects++;
    const id = this.nextLinkId++;
    const link = new VirtualLink(this, id, `${options.host}:${options.port}`, linkOptions?.device ?? NO_DEVICE, linkOptions?.conn ?? id, linkOptions?.rateBps ?? this.rateBps);
    const client = new VirtualSocket(link, "client", handler);
    link.client = client;
    const attempt = () => {
      const accept = this.listeners.get(link.address);
      if (this.down) {
        this.clock.setTimeout(() => client.fail("connect timed out"), CONNECT_TIMEOUT_MS);
        return;
      }
      if (accept === undefined || client.closed) {
        client.fail("connection refused");
        return;
      }
      const server = new VirtualSocket(link, "server", undefined);
      link.server = server;
      this.links.add(link);
      server.handler = accept(server, link);
      client.handler.onConnect();
    };
    // One round trip for the handshake.
    this.clock.setTimeout(attempt, this.latencyMs * 2);
    return client;
  }

  /** Every open link fails; both ends see a close. */
  dropAll(reason = "network dropped"): void {
    for (const link of [...this.links]) link.drop(reason);
  }

  /** Every open link goes half-open: bytes vanish and nobody is told. */
  blackholeAll(): void {
    for (const link of this.links) link.blackholed = true;
  }

  /** Takes the whole network down (or back up). Down: links are blackholed, connects time out. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) this.blackholeAll();
  }

  get isDown(): boolean {
    return this.down;
  }

  openLinks(): VirtualLink[] {
    return [...this.links];
  }

  /** @internal */
  forget(link: VirtualLink): void {
    this.links.delete(link);
  }
}

/**
 * One direction of a link: bytes on the wire, oldest first, with their arrival times, and one
 * timer at a time for the head. Usually one chunk is in flight, so the head lives in fields and
 * only a backlog uses arrays: every byte a fleet sends passes here, for thousands of links.
 */
class Pipe {
  /** When the last byte scheduled arrives: keeps delivery in order. */
  lastArrival = 0;
  /** Paced links: when the last chunk written has left the sender (virtual µs). */
  busyUntilMicros = 0;
  armed = false;
  headAt = 0;
  head: Uint8Array | undefined = undefined;
  /** Chunks behind the head (arrival times alongside), created on first need. */
  moreAt: number[] | undefined = undefined;
  more: Uint8Array[] | undefined = undefined;
  /** Bound once per pipe so a write costs no closure. */
  readonly deliver: () => void;

  constructor(link: VirtualLink, from: Side) {
    this.deliver = () => link.deliver(from);
  }

  add(at: number, chunk: Uint8Array): void {
    if (this.head === undefined) {
      this.headAt = at;
      this.head = chunk;
    } else {
      (this.moreAt ??= []).push(at);
      (this.more ??= []).push(chunk);
    }
  }

  /** Removes and returns the head chunk. */
  take(): Uint8Array {
    const chunk = this.head!;
    if (this.more !== undefined && this.more.length > 0) {
      this.headAt = this.moreAt!.shift()!;
      this.head = this.more.shift()!;
    } else this.head = undefined;
    return chunk;
  }
}

export class VirtualLink {
  client!: VirtualSocket;
  server: VirtualSocket | undefined;
  blackholed = false;
  private readonly fromClient: Pipe = new Pipe(this, "client");
  private readonly fromServer: Pipe = new Pipe(this, "server");

  constructor(
    readonly network: VirtualNetwork,
    readonly id: number,
    readonly address: string,
    /** The device this link belongs to (NO_DEVICE if none was named) and its connection number. */
    readonly device: number,
    readonly conn: number,
    /** Bit/s each direction; 0 = unpaced. */
    readonly rateBps: number,
  ) {}

  /** Per direction (keyed by sender), when the last byte scheduled arrives. */
  lastArrival(from: Side): number {
    return this.pipe(from).lastArrival;
  }

  /** Both ends see a close (after bytes already in flight). */
  drop(reason: string): void {
    this.client.fail(reason);
    this.server?.fail(reason);
  }

  private pipe(from: Side): Pipe {
    return from === "client" ? this.fromClient : this.fromServer;
  }

  /** @internal */
  transmit(from: Side, bytes: Uint8Array): void {
    const to = from === "client" ? this.server : this.client;
    if (to === undefined || this.blackholed) return;
    const net = this.network;
    let payload = bytes;
    const fault = net.transmitFault?.(this, from, bytes);
    if (fault) payload = bytes.slice(0, Math.max(0, Math.min(fault.deliverBytes, bytes.length)));
    if (payload.length > 0) {
      const pipe = this.pipe(from);
      const at = Math.max(this.departure(pipe, payload.length) + net.latencyMs, pipe.lastArrival);
      pipe.lastArrival = at;
      net.bytesCarried += payload.length;
      // Copy: the sender may reuse its buffer once write() returns.
      pipe.add(at, payload === bytes ? net.copyChunk(bytes) : payload);
      if (!pipe.armed) this.arm(pipe);
    }
    if (fault?.then === "drop") this.drop("connection reset");
    else if (fault?.then === "blackhole") this.blackholed = true;
  }

  /**
   * When a chunk of `bytes` written now has left the sender (virtual ms): on a paced link it
   * starts when the chunks before it have gone (max(now, last departure)) and takes its airtime.
   * The link keeps the exact µs; the chunk's departure is rounded down to the ms, so a small
   * packet on an idle link leaves this ms, as on an unpaced link.
   */
  private departure(pipe: Pipe, bytes: number): number {
    const now = this.network.clock.now();
    if (this.rateBps <= 0) return now;
    const start = Math.max(now * 1000, pipe.busyUntilMicros);
    pipe.busyUntilMicros = start + airtimeMicros(bytes, this.rateBps);
    return Math.floor(pipe.busyUntilMicros / 1000);
  }

  private arm(pipe: Pipe): void {
    if (pipe.head === undefined) return;
    pipe.armed = true;
    const clock = this.network.clock;
    clock.setTimeout(pipe.deliver, pipe.headAt - clock.now());
  }

  /** @internal Hands every chunk that has arrived to the receiving end, then waits for the next. */
  deliver(from: Side): void {
    const pipe = this.pipe(from);
    pipe.armed = false;
    const to = from === "client" ? this.server : this.client;
    const now = this.network.clock.now();
    while (pipe.head !== undefined && pipe.headAt <= now) {
      const bytes = pipe.take();
      if (to !== undefined && to.receiving && !this.blackholed) to.handler.onData(bytes);
    }
    this.arm(pipe);
  }
}

export class VirtualSocket implements Socket {
  /** No more writes from this end. */
  closed = false;
  /** Still hands arriving bytes to its handler: false after our own close or the close event. */
  receiving = true;

  constructor(
    readonly link: VirtualLink,
    readonly side: Side,
    public handler: SocketHandler = NO_HANDLER,
  ) {}

  write(bytes: Uint8Array): number {
    if (this.closed) return 0;
    this.link.transmit(this.side, bytes);
    return 0;
  }

  /** Our own close: we hear "closed" next turn; the peer hears a FIN after in-flight bytes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiving = false;
    const net = this.link.network;
    net.clock.setTimeout(() => this.handler.onClose("closed"), 0);
    const peer = this.side === "client" ? this.link.server : this.link.client;
    if (peer && !peer.closed && !this.link.blackholed) {
      const at = Math.max(net.clock.now() + net.latencyMs, this.link.lastArrival(this.side));
      net.clock.setTimeout(() => peer.fail("peer closed"), at - net.clock.now());
    }
    this.forgetIfDone();
  }

  /** @internal The link failed under us: bytes already in flight to us arrive first. */
  fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const clock = this.link.network.clock;
    const inbound = this.link.lastArrival(this.side === "client" ? "server" : "client");
    clock.setTimeout(() => {
      this.receiving = false;
      this.handler.onClose(reason);
    }, Math.max(0, inbound - clock.now()));
    this.forgetIfDone();
  }

  private forgetIfDone(): void {
    const { client, server } = this.link;
    if (client.closed && (server === undefined || server.closed)) this.link.network.forget(this.link);
  }
}

const NO_HANDLER: SocketHandler = {
  onConnect() {},
  onData() {},
  onClose() {},
};

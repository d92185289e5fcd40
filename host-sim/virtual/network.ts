/**
 * A virtual network on the virtual clock: devices connect to listeners by host:port,
 * and bytes arrive after a latency, in order. Faults are explicit and deterministic:
 * drop a link (both ends see a close), blackhole it (half-open: bytes vanish, no FIN),
 * refuse connects (nobody listening), take the network down (connects time out),
 * or cut a transmission part-way through a write.
 */
import type { Network, Socket, SocketHandler, SocketOptions } from "../../device/ports";
import type { VirtualClock } from "./clock";

export const DEFAULT_LATENCY_MS = 5;
/** lwIP gives up a SYN after roughly this long when nothing answers. */
export const CONNECT_TIMEOUT_MS = 10_000;

export type Side = "client" | "server";

/** What a transmit fault does with one write: deliver only the first bytes, then fail the link. */
export type TransmitFault = undefined | { deliverBytes: number; then: "drop" | "blackhole" };
export type TransmitHook = (link: VirtualLink, from: Side, bytes: Uint8Array) => TransmitFault;

/** The server side's acceptor returns the handler for its end of the new link. */
export type Acceptor = (socket: VirtualSocket, link: VirtualLink) => SocketHandler;

export class VirtualNetwork implements Network {
  latencyMs = DEFAULT_LATENCY_MS;
  transmitFault: TransmitHook | undefined;
  /** While true, connects time out and established links are blackholed. */
  private down = false;
  private readonly listeners = new Map<string, Acceptor>();
  private readonly links = new Set<VirtualLink>();
  private nextLinkId = 1;
  connects = 0;
  bytesCarried = 0;

  constructor(readonly clock: VirtualClock) {}

  listen(host: string, port: number, accept: Acceptor): () => void {
    const key = `${host}:${port}`;
    if (this.listeners.has(key)) throw new Error(`virtual network: ${key} already has a listener`);
    this.listeners.set(key, accept);
    return () => {
      if (this.listeners.get(key) === accept) this.listeners.delete(key);
    };
  }

  connect(options: SocketOptions, handler: SocketHandler): Socket {
    this.connects++;
    const link = new VirtualLink(this, this.nextLinkId++, `${options.host}:${options.port}`);
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

interface InFlight {
  at: number;
  bytes: Uint8Array;
}

export class VirtualLink {
  client!: VirtualSocket;
  server: VirtualSocket | undefined;
  blackholed = false;
  /** Per direction, when the last byte scheduled arrives: keeps delivery in order. */
  lastArrival: Record<Side, number> = { client: 0, server: 0 };
  /** Per direction (keyed by sender), bytes on the wire, oldest first; one timer per direction. */
  private readonly wire: Record<Side, InFlight[]> = { client: [], server: [] };
  private readonly armed: Record<Side, boolean> = { client: false, server: false };
  // Bound once per link so a write costs no closure.
  private readonly deliverFromClient = () => this.deliver("client");
  private readonly deliverFromServer = () => this.deliver("server");

  constructor(
    readonly network: VirtualNetwork,
    readonly id: number,
    readonly address: string,
  ) {}

  /** Both ends see a close (after bytes already in flight). */
  drop(reason: string): void {
    this.client.fail(reason);
    this.server?.fail(reason);
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
      const at = Math.max(net.clock.now() + net.latencyMs, this.lastArrival[from]);
      this.lastArrival[from] = at;
      net.bytesCarried += payload.length;
      // Copy: the sender may reuse its buffer once write() returns.
      this.wire[from].push({ at, bytes: payload === bytes ? bytes.slice() : payload });
      if (!this.armed[from]) this.arm(from);
    }
    if (fault?.then === "drop") this.drop("connection reset");
    else if (fault?.then === "blackhole") this.blackholed = true;
  }

  private arm(from: Side): void {
    const head = this.wire[from][0];
    if (head === undefined) return;
    this.armed[from] = true;
    const clock = this.network.clock;
    clock.setTimeout(from === "client" ? this.deliverFromClient : this.deliverFromServer, head.at - clock.now());
  }

  /** Hands every chunk that has arrived to the receiving end, then waits for the next. */
  private deliver(from: Side): void {
    this.armed[from] = false;
    const queue = this.wire[from];
    const to = from === "client" ? this.server : this.client;
    const now = this.network.clock.now();
    while (queue.length > 0 && queue[0].at <= now) {
      const { bytes } = queue.shift()!;
      if (to !== undefined && to.receiving && !this.blackholed) to.handler.onData(bytes);
    }
    this.arm(from);
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
      const at = Math.max(net.clock.now() + net.latencyMs, this.link.lastArrival[this.side]);
      net.clock.setTimeout(() => peer.fail("peer closed"), at - net.clock.now());
    }
    this.forgetIfDone();
  }

  /** @internal The link failed under us: bytes already in flight to us arrive first. */
  fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const clock = this.link.network.clock;
    const inbound = this.link.lastArrival[this.side === "client" ? "server" : "client"];
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

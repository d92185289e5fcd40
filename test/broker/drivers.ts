/**
 * Transports for the broker test client: "virtual" (our VirtualBroker on the virtual
 * network, time advanced by the test) and "tcp" (any broker on a real loopback port, real
 * time). The same test cases run over both (conformance.test.ts).
 */
import net from "node:net";
import type { SocketHandler } from "../../device/ports";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { VirtualBroker, type VirtualBrokerOptions } from "../../host-sim/broker/virtual-broker";

export interface RawSocket {
  write(bytes: Uint8Array): void;
  /** Closes without DISCONNECT (a FIN); the broker should treat it as an abrupt loss. */
  close(): void;
}

export interface Driver {
  readonly name: string;
  /** Opens a byte stream to the broker; handler.onConnect fires once it is up. */
  open(handler: SocketHandler): RawSocket;
  /** Waits until cond() holds or maxMs pass (virtual or real ms); returns cond(). */
  waitFor(cond: () => boolean, maxMs: number): Promise<boolean>;
  /** Lets time pass (to prove something does not happen). */
  sleep(ms: number): Promise<void>;
  /** Closes the client sockets and the broker. */
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------- virtual
export class VirtualDriver implements Driver {
  readonly name = "virtual";
  readonly clock = new VirtualClock();
  readonly net = new VirtualNetwork(this.clock);
  readonly broker: VirtualBroker;

  constructor(options: VirtualBrokerOptions = {}) {
    this.broker = new VirtualBroker(this.net, options).start();
  }

  open(handler: SocketHandler): RawSocket {
    const s = this.net.connect({ host: this.broker.host, port: this.broker.port }, handler);
    return { write: (b) => void s.write(b), close: () => s.close() };
  }

  /** Runs timers one due time at a time, so cond() is checked between events. */
  async waitFor(cond: () => boolean, maxMs: number): Promise<boolean> {
    this.run(cond, maxMs);
    return cond();
  }

  /** Synchronous form for unit tests. */
  run(cond: () => boolean, maxMs: number): boolean {
    const deadline = this.clock.now() + maxMs;
    while (!cond()) {
      const due = this.clock.nextDueAt();
      if (due === undefined || due > deadline) {
        this.clock.runUntil(deadline);
        return cond();
      }
      this.clock.runUntil(due);
    }
    return true;
  }

  async sleep(ms: number): Promise<void> {
    this.clock.advance(ms);
  }

  async dispose(): Promise<void> {
    this.broker.stop();
  }
}

// ---------------------------------------------------------------- tcp
export class TcpDriver implements Driver {
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly name: string,
    readonly host: string,
    readonly port: number,
    private readonly onDispose: () => Promise<void> = async () => {},
  ) {}

  open(handler: SocketHandler): RawSocket {
    const s = net.connect({ host: this.host, port: this.port });
    s.setNoDelay(true);
    this.sockets.add(s);
    let closed = false;
    const onClose = (reason: string) => {
      if (closed) return;
      closed = true;
      this.sockets.delete(s);
      handler.onClose(reason);
    };
    s.on("connect", () => handler.onConnect());
    s.on("data", (b: Buffer) => handler.onData(new Uint8Array(b.buffer, b.byteOffset, b.length)));
    s.on("error", (e) => onClose(`error: ${e.message}`));
    s.on("close", () => onClose("closed"));
    return {
      write: (b) => {
        if (!s.destroyed) s.write(b);
      },
      close: () => s.destroy(),
    };
  }

  async waitFor(cond: () => boolean, maxMs: number): Promise<boolean> {
    const end = Date.now() + maxMs;
    while (!cond()) {
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  async dispose(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await this.onDispose();
  }
}

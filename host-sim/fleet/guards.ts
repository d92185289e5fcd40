/**
 * The boundary between the fleet and one device's running code. Every way into device code
 * (a timer, a socket callback) passes a guard that (1) ignores calls meant for an earlier
 * boot — after a power cut or restart the old code's timers and sockets must fall silent —
 * and (2) catches what unwinds out of the device (PowerCut, DeviceHalted, a crash) and hands
 * it to the device, so one device's failure never stops the shared virtual clock.
 * Classes, not closures, on the hot paths (one object per socket, not per byte). Node-free.
 */
import type { Clock, Network, Socket, SocketHandler, SocketOptions, TimerId } from "../../device/ports";
import type { TimerGuard, VirtualClock } from "../virtual/clock";
import { CONNECT_TIMEOUT_MS, type LinkOptions, type VirtualNetwork, type VirtualSocket } from "../virtual/network";

/** What a guard needs from its device. */
export interface Guarded {
  /** Changes at every boot and halt: calls from another epoch are dropped. */
  epoch: number;
  /** Something unwound out of device code. */
  fault(err: unknown): void;
  /** Radio down (link flap): connects fail after the SYN timeout. */
  radioDown(): boolean;
  readonly sockets: VirtualSocket[];
}

/**
 * A boot's clock port: milliseconds since this boot (the Clock contract; a chip's tick counter
 * restarts at every reset), timers on the shared virtual clock.
 */
export class DeviceClock implements Clock, TimerGuard {
  private readonly bootAt: number;

  constructor(
    private readonly clock: VirtualClock,
    private readonly dev: Guarded,
    private readonly epoch: number,
  ) {
    this.bootAt = clock.now();
  }

  now(): number {
    return this.clock.now() - this.bootAt;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    // This clock guards its own timers: no wrapping closure per timer.
    return this.clock.setTimeout(fn, ms, this);
  }

  /** @internal TimerGuard: the virtual clock runs this boot's timers through here. */
  run(fn: () => void): void {
    if (this.dev.epoch !== this.epoch) return;
    try {
      fn();
    } catch (e) {
      this.dev.fault(e);
    }
  }

  clearTimeout(id: TimerId): void {
    this.clock.clearTimeout(id);
  }
}

class GuardedHandler implements SocketHandler {
  socket: VirtualSocket | undefined;

  constructor(
    private readonly dev: Guarded,
    private readonly epoch: number,
    private readonly inner: SocketHandler,
  ) {}

  onConnect(): void {
    if (this.dev.epoch !== this.epoch) return;
    try {
      this.inner.onConnect();
    } catch (e) {
      this.dev.fault(e);
    }
  }

  onData(bytes: Uint8Array): void {
    if (this.dev.epoch !== this.epoch) return;
    try {
      this.inner.onData(bytes);
    } catch (e) {
      this.dev.fault(e);
    }
  }

  onClose(reason: string): void {
    if (this.dev.epoch !== this.epoch) return;
    const list = this.dev.sockets;
    const i = this.socket ? list.indexOf(this.socket) : -1;
    if (i >= 0) list.splice(i, 1);
    try {
      this.inner.onClose(reason);
    } catch (e) {
      this.dev.fault(e);
    }
  }
}

/** A connect while the radio is down: nothing answers, the SYN times out. */
class UnreachableSocket implements Socket {
  private done = false;

  constructor(
    private readonly clock: Clock,
    private readonly handler: SocketHandler,
  ) {
    clock.setTimeout(() => this.finish("connect timed out (radio down)"), CONNECT_TIMEOUT_MS);
  }

  write(): number {
    return 0;
  }

  close(): void {
    this.clock.setTimeout(() => this.finish("closed"), 0);
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.handler.onClose(reason);
  }
}

export class DeviceNetwork implements Network {
  constructor(
    private readonly network: VirtualNetwork,
    private readonly clock: DeviceClock,
    private readonly dev: Guarded,
    private readonly epoch: number,
    /** Names the device's next link (and, with a radio, its rate): FleetDevice.nextLink. */
    private readonly nextLink: () => LinkOptions,
  ) {}

  connect(options: SocketOptions, handler: SocketHandler): Socket {
    if (this.dev.radioDown()) return new UnreachableSocket(this.clock, handler);
    const guarded = new GuardedHandler(this.dev, this.epoch, handler);
    const socket = this.network.connect(options, guarded, this.nextLink()) as VirtualSocket;
    guarded.socket = socket;
    this.dev.sockets.push(socket);
    return socket;
  }
}

/**
 * The device vanished (power cut, reset): its sockets go silent without a FIN, as when a
 * board loses power. The broker finds out by keep-alive expiry and publishes the Will.
 */
export function silenceSockets(sockets: VirtualSocket[]): void {
  for (const s of sockets) {
    s.link.blackholed = true;
    s.closed = true;
    s.receiving = false;
  }
  sockets.length = 0;
}

/** The radio dropped: the device sees its connection fail; the broker hears nothing. */
export function dropSockets(sockets: VirtualSocket[], reason: string): void {
  for (const s of [...sockets]) {
    s.link.blackholed = true;
    s.fail(reason);
  }
}

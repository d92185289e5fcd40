/**
 * The broker's end of one network connection: the byte-at-a-time parser, the Last Will,
 * keep-alive bookkeeping and the session it is bound to after CONNECT. It only forwards;
 * every decision is the broker's (virtual-broker.ts), so this holds no logic worth a closure.
 */
import type { SocketHandler, TimerId } from "../../device/ports";
import type { Will } from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import type { VirtualSocket } from "../virtual/network";
import type { Session } from "./session";
import type { VirtualBroker } from "./virtual-broker";

export const AWAITING_CONNECT = 0;
export const CONNECTED = 1;
export const CLOSED = 2;

export class Connection implements SocketHandler {
  state = AWAITING_CONNECT;
  session: Session | undefined = undefined;
  will: Will | undefined = undefined;
  /** Keep-alive × 1.5 in ms (§3.1.2.10); 0 = none. */
  graceMs = 0;
  /** Virtual time of the last byte received. */
  lastIn: number;
  timer: TimerId | undefined = undefined;
  /** The keep-alive check, bound once: it is re-armed after nearly every packet. */
  readonly checkAlive: () => void;
  readonly parser: MqttParser;

  constructor(
    readonly broker: VirtualBroker,
    readonly socket: VirtualSocket,
    maxPacketSize: number,
  ) {
    this.lastIn = broker.clock.now();
    this.checkAlive = () => broker.checkAlive(this);
    this.parser = new MqttParser(
      (p) => broker.onPacket(this, p),
      (reason) => broker.onMalformed(this, reason),
      // Payloads are views into the network's copy of each chunk: the broker copies what it keeps.
      { maxPacketSize, borrowPayloads: true },
    );
  }

  get clientId(): string | undefined {
    return this.session?.clientId;
  }

  onConnect(): void {
    // Server ends are born connected.
  }

  onData(bytes: Uint8Array): void {
    if (this.state === CLOSED) return;
    this.broker.onBytes(this, bytes);
  }

  onClose(reason: string): void {
    if (this.state === CLOSED) return;
    this.broker.onSocketClosed(this, reason);
  }
}

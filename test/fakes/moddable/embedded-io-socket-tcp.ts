/**
 * Fake of ECMA-419 `embedded:io/socket/tcp` (documentation/io/io.md, "TCP Socket") on the
 * world's virtual network, with the semantics Tether relies on:
 * - `address` must be a dotted IPv4 address (no names; resolve first);
 * - onWritable(bytes) first fires on connect; before it nothing may be written;
 * - a write larger than the last reported space throws and sends nothing;
 * - onWritable fires again when sent bytes are acknowledged (one round trip later);
 * - onReadable(count) reports buffered bytes; read() takes them (all, or `byteLength`);
 * - onError fires on any disconnect, including a clean close by the peer;
 * - after close() no callback fires.
 */
import type { Socket } from "../../../device/ports";
import { RxBuffer } from "./rx-buffer";
import { world } from "./world";

/** lwIP's send buffer on ESP32 (TCP_SND_BUF, 2 x MSS in Moddable's default sdkconfig). */
export const TCP_SEND_BUFFER = 2920;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

type Bytes = ArrayBuffer | ArrayBufferView;

interface Options {
  address?: string;
  host?: string;
  port: number;
  nodelay?: boolean;
  format?: "number" | "buffer";
  onReadable?: (this: FakeTCP, count: number) => void;
  onWritable?: (this: FakeTCP, count: number) => void;
  onError?: (this: FakeTCP) => void;
}

function bytesOf(value: Bytes): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

export default class FakeTCP {
  format: "number" | "buffer";
  private readonly sock: Socket;
  private readonly options: Options;
  private readonly rx = new RxBuffer();
  private writable = 0;
  private connected = false;
  private closed = false;
  private readonly stop = () => this.halt();

  constructor(options: Options) {
    if (!options || typeof options.address !== "string") throw new Error("address required");
    const m = IPV4.exec(options.address);
    if (!m || m.slice(1).some((p) => Number(p) > 255)) throw new Error("invalid address");
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) throw new RangeError("invalid port");
    this.options = options;
    this.format = options.format ?? "buffer";
    const w = world();
    w.onRestart.add(this.stop);
    this.sock = w.network.connect(
      { host: options.address, port: options.port },
      {
        onConnect: () => {
          if (this.closed) return;
          this.connected = true;
          this.writable = TCP_SEND_BUFFER;
          this.options.onWritable?.call(this, this.writable);
        },
        onData: (bytes) => {
          if (this.closed) return;
          this.rx.push(bytes);
          this.options.onReadable?.call(this, this.rx.size);
        },
        onClose: () => {
          if (this.closed) return;
          this.halt();
          this.options.onError?.call(this);
        },
      },
    );
  }

  get remoteAddress(): string | undefined {
    return this.options.address;
  }
  get remotePort(): number | undefined {
    return this.options.port;
  }

  read(byteLength?: number): ArrayBuffer | number | undefined {
    if (this.closed) throw new Error("closed");
    if (this.rx.size === 0) return undefined;
    if (this.format === "number") return this.rx.take(1)[0];
    return this.rx.take(byteLength === undefined ? this.rx.size : Math.min(byteLength, this.rx.size)).buffer as ArrayBuffer;
  }

  write(value: number | Bytes): void {
    if (this.closed) throw new Error("closed");
    if (!this.connected) throw new Error("not connected");
    const bytes = typeof value === "number" ? new Uint8Array([value & 0xff]) : bytesOf(value).slice();
    if (bytes.length > this.writable) throw new Error(`write: ${bytes.length} bytes but only ${this.writable} writable`);
    this.writable -= bytes.length;
    this.sock.write(bytes);
    const w = world();
    // The ack frees the space one round trip later.
    w.clock.setTimeout(() => {
      if (this.closed) return;
      this.writable += bytes.length;
      this.options.onWritable?.call(this, this.writable);
    }, w.network.latencyMs * 2);
  }

  close(): void {
    if (this.closed) return;
    this.halt();
    this.sock.close();
  }

  private halt(): void {
    this.closed = true;
    world().onRestart.delete(this.stop);
  }
}

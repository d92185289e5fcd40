/**
 * Network port over Moddable sockets.
 *
 * Plain TCP uses ECMA-419 `embedded:io/socket/tcp`. It needs a dotted IPv4 address (names are
 * resolved through "net" first), and it may only write as many bytes as its last onWritable
 * reported, so the adapter queues writes and flushes from onWritable. mqtts:// uses Moddable's
 * TLS socket ("securesocket", documentation/network/securesocket.md) with the broker's CA as DER:
 * from SocketOptions.tls.ca (PEM) or the manifest's data resource passed in by main.ts.
 *
 * Every handler callback runs on its own turn; onClose fires exactly once.
 */
import TCP from "embedded:io/socket/tcp";
import SecureSocket from "securesocket";
import Net from "net";
import { rethrowHalt, type Clock, type Network, type Socket, type SocketHandler, type SocketOptions } from "../../ports";
import { pemToDer } from "./pem";

/** TLS 1.2: the minimum brokers accept today. */
const TLS_VERSION = 0x303;
/** Legacy socket callback messages (documentation/network/network.md, Socket callback). */
const MSG_ERROR = -2;
const MSG_DISCONNECT = -1;
const MSG_CONNECT = 1;
const MSG_DATA = 2;
const MSG_SENT = 3;

/**
 * A dotted IPv4 address. The regex is created per call, not held in a module constant: the
 * bundle is preloaded on the ESP32, and in Moddable SDK 8.2.3 `test`/`exec` on a RegExp created
 * during preload crashes XS after a garbage collection (docs/esp32.md, "Memory budget").
 */
function isIpv4(s: string): boolean {
  return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s);
}

export interface ModdableNetworkOptions {
  /** DER CA used for TLS when SocketOptions.tls.ca is absent (the manifest resource). */
  defaultCa?: ArrayBuffer;
}

export class ModdableNetwork implements Network {
  constructor(
    private readonly clock: Clock,
    private readonly options: ModdableNetworkOptions = {},
  ) {}

  connect(options: SocketOptions, handler: SocketHandler): Socket {
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) throw new RangeError(`network: bad port ${options.port}`);
    return options.tls ? new TlsConnection(this.clock, options, handler, this.options.defaultCa) : new TcpConnection(this.clock, options, handler);
  }
}

/** Shared write queue and once-only close reporting. */
abstract class Connection implements Socket {
  protected queue: Uint8Array[] = [];
  protected queued = 0;
  protected connected = false;
  protected closed = false;

  constructor(
    protected readonly clock: Clock,
    protected readonly handler: SocketHandler,
  ) {}

  write(bytes: Uint8Array): number {
    if (this.closed) return 0;
    if (bytes.length > 0) {
      this.queue.push(bytes.slice());
      this.queued += bytes.length;
      if (this.connected) this.flush();
    }
    return this.queued;
  }

  close(): void {
    if (this.closed) return;
    // Hand over whatever fits now (e.g. an MQTT DISCONNECT); the stack sends it before the FIN.
    if (this.connected) this.flush();
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.shutdown();
    this.report("closed");
  }

  /** Bytes the native socket accepts right now. */
  protected abstract room(): number;
  protected abstract send(bytes: Uint8Array): void;
  protected abstract shutdown(): void;

  protected flush(): void {
    let room = this.room();
    while (this.queue.length > 0 && room > 0) {
      const head = this.queue[0];
      const n = Math.min(head.length, room);
      this.send(n === head.length ? head : head.subarray(0, n));
      room -= n;
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
  }

  protected opened(): void {
    if (this.closed || this.connected) return;
    this.connected = true;
    this.handler.onConnect();
  }

  protected received(bytes: Uint8Array): void {
    if (!this.closed && bytes.length > 0) this.handler.onData(bytes);
  }

  protected failed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.shutdown();
    this.report(reason);
  }

  private report(reason: string): void {
    // A turn of its own, even when the failure happened inside a call from the core.
    this.clock.setTimeout(() => this.handler.onClose(reason), 0);
  }
}

class TcpConnection extends Connection {
  private tcp: TCP | undefined;
  private writable = 0;

  constructor(clock: Clock, options: SocketOptions, handler: SocketHandler) {
    super(clock, handler);
    const port = options.port;
    if (isIpv4(options.host)) {
      this.clock.setTimeout(() => this.open(options.host, port), 0);
      return;
    }
    try {
      Net.resolve(options.host, (_name, address) => {
        if (this.closed) return;
        if (address && isIpv4(address)) this.open(address, port);
        else this.failed(`dns: cannot resolve ${options.host}`);
      });
    } catch (e) {
      rethrowHalt(e);
      this.clock.setTimeout(() => this.failed(`dns: ${String(e)}`), 0);
    }
  }

  private open(address: string, port: number): void {
    if (this.closed) return;
    try {
      this.tcp = new TCP({
        address,
        port,
        nodelay: true,
        onReadable: (count: number) => this.readable(count),
        onWritable: (count: number) => {
          this.writable = count;
          this.opened();
          if (!this.closed) this.flush();
        },
        onError: () => this.failed("connection lost"),
      });
    } catch (e) {
      rethrowHalt(e);
      this.failed(`connect: ${String(e)}`);
    }
  }

  private readable(count: number): void {
    if (this.closed || !this.tcp) return;
    const data = this.tcp.read(count) as ArrayBuffer | undefined;
    if (data) this.received(new Uint8Array(data));
  }

  protected room(): number {
    return this.writable;
  }

  protected send(bytes: Uint8Array): void {
    this.tcp!.write(bytes);
    this.writable -= bytes.length;
  }

  protected shutdown(): void {
    const tcp = this.tcp;
    this.tcp = undefined;
    tcp?.close();
  }
}

class TlsConnection extends Connection {
  private sock: SecureSocket | undefined;

  constructor(clock: Clock, options: SocketOptions, handler: SocketHandler, defaultCa: ArrayBuffer | undefined) {
    super(clock, handler);
    let certificate: ArrayBuffer | undefined;
    try {
      certificate = options.tls?.ca ? (pemToDer(options.tls.ca).slice().buffer as ArrayBuffer) : defaultCa;
    } catch (e) {
      rethrowHalt(e);
      this.clock.setTimeout(() => this.failed(`tls: bad CA certificate: ${String(e)}`), 0);
      return;
    }
    if (certificate === undefined) {
      // Refuse rather than fall back to an unverified session.
      this.clock.setTimeout(() => this.failed("tls: no CA certificate for the broker"), 0);
      return;
    }
    try {
      // SecureSocket resolves, connects to and names (SNI, certificate check) one `host`, so a
      // servername that differs from the host wins: the certificate must match it.
      const sock = new SecureSocket({
        host: options.tls?.servername ?? options.host,
        port: options.port,
        secure: { protocolVersion: TLS_VERSION, certificate },
      });
      // The legacy socket API reports through a `callback` property (network.md, Socket callback).
      (sock as unknown as { callback: (message: number, value?: number) => void }).callback = (message, value) => this.event(message, value);
      this.sock = sock;
    } catch (e) {
      rethrowHalt(e);
      this.clock.setTimeout(() => this.failed(`tls: ${String(e)}`), 0);
    }
  }

  private event(message: number, value?: number): void {
    if (this.closed) return;
    switch (message) {
      case MSG_CONNECT:
        this.opened();
        if (!this.closed) this.flush();
        break;
      case MSG_DATA: {
        const data = this.sock!.read(ArrayBuffer, value);
        this.received(new Uint8Array(data));
        break;
      }
      case MSG_SENT:
        this.flush();
        break;
      case MSG_DISCONNECT:
        this.failed("connection lost");
        break;
      case MSG_ERROR:
        this.failed("tls error");
        break;
    }
  }

  protected room(): number {
    return this.sock ? (this.sock.write as unknown as () => number)() : 0;
  }

  protected send(bytes: Uint8Array): void {
    this.sock!.write(bytes.slice().buffer as ArrayBuffer);
  }

  protected shutdown(): void {
    const sock = this.sock;
    this.sock = undefined;
    sock?.close();
  }
}

/**
 * Fake of Moddable's TLS socket "securesocket" (documentation/network/securesocket.md) with the
 * legacy Socket callback protocol (documentation/network/network.md): callback(1) on connect,
 * (2, count) on data, (3, writable) when sent data is acknowledged, (-1) on disconnect,
 * (-2) on error. `write()` with no argument returns the writable byte count; a write that does
 * not fit throws. The handshake checks `secure.certificate` (DER) against the CA the world's
 * TLS server presents: no certificate or the wrong one fails with -2, as verification does.
 * Only the handshake is modelled: bytes travel in clear on the virtual network.
 */
import type { Socket } from "../../../device/ports";
import { RxBuffer } from "./rx-buffer";
import { world } from "./world";

export const TLS_SEND_BUFFER = 2048;

type Callback = (this: FakeSecureSocket, message: number, value?: number) => void;

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export default class FakeSecureSocket {
  callback: Callback | undefined;
  private readonly sock: Socket;
  private readonly rx = new RxBuffer();
  private writable = 0;
  private closed = false;
  private readonly stop = () => this.halt();

  constructor(dict: { host: string; port: number; secure?: { certificate?: ArrayBuffer | ArrayBufferView; protocolVersion?: number } }) {
    if (!dict || typeof dict.host !== "string" || !Number.isInteger(dict.port)) throw new Error("host and port required");
    const w = world();
    const serverCa = w.tlsServers.get(`${dict.host}:${dict.port}`);
    const cert = dict.secure?.certificate;
    const certBytes = cert === undefined ? undefined : cert instanceof ArrayBuffer ? new Uint8Array(cert) : new Uint8Array(cert.buffer, cert.byteOffset, cert.byteLength);
    w.onRestart.add(this.stop);
    this.sock = w.network.connect(
      { host: dict.host, port: dict.port },
      {
        onConnect: () => {
          if (this.closed) return;
          if (serverCa === undefined || certBytes === undefined || !same(certBytes, serverCa)) {
            this.halt();
            this.sock.close();
            this.emit(-2);
            return;
          }
          this.writable = TLS_SEND_BUFFER;
          this.emit(1);
        },
        onData: (bytes) => {
          if (this.closed) return;
          this.rx.push(bytes);
          this.emit(2, this.rx.size);
        },
        onClose: () => {
          if (this.closed) return;
          this.halt();
          this.emit(-1);
        },
      },
    );
  }

  read(type: unknown, until?: number): ArrayBuffer | number | string | undefined {
    if (this.closed) throw new Error("closed");
    if (type === undefined) return this.rx.size;
    if (this.rx.size === 0) return undefined;
    if (type === Number) return this.rx.take(1)[0];
    const n = typeof until === "number" ? Math.min(until, this.rx.size) : this.rx.size;
    const bytes = this.rx.take(n);
    if (type === String) return String.fromCharCode(...bytes);
    return bytes.buffer as ArrayBuffer;
  }

  write(...data: (ArrayBuffer | ArrayBufferView | string | number)[]): number | void {
    if (data.length === 0) return this.closed ? 0 : this.writable;
    if (this.closed) throw new Error("closed");
    const parts = data.map((d) => {
      if (typeof d === "number") return new Uint8Array([d & 0xff]);
      if (typeof d === "string") return Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff);
      if (d instanceof ArrayBuffer) return new Uint8Array(d).slice();
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
    });
    const total = parts.reduce((n, p) => n + p.length, 0);
    if (total > this.writable) throw new Error(`write: ${total} bytes but only ${this.writable} writable`);
    this.writable -= total;
    for (const p of parts) this.sock.write(p);
    const w = world();
    w.clock.setTimeout(() => {
      if (this.closed) return;
      this.writable += total;
      this.emit(3, this.writable);
    }, w.network.latencyMs * 2);
  }

  close(): void {
    if (this.closed) return;
    this.halt();
    this.sock.close();
  }

  private emit(message: number, value?: number): void {
    this.callback?.call(this, message, value);
  }

  private halt(): void {
    this.closed = true;
    world().onRestart.delete(this.stop);
  }
}

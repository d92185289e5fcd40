/**
 * A Network port wrapper that can cut every open connection from below, as a radio that drops
 * out does: the sockets close without the client sending MQTT DISCONNECT (so the broker sees an
 * abrupt loss and publishes the Last Will), and the client finds out only from the closed socket.
 * It also counts the bytes that arrive, for "how much was downloaded again" measurements.
 */
import type { Network, Socket, SocketHandler, SocketOptions } from "../../device/ports";

export class LinkCutter implements Network {
  /** Bytes delivered to the device over all connections. */
  bytesIn = 0;
  cuts = 0;
  private readonly open = new Set<Socket>();

  constructor(private readonly inner: Network) {}

  connect(options: SocketOptions, handler: SocketHandler): Socket {
    const socket = this.inner.connect(options, {
      onConnect: () => handler.onConnect(),
      onData: (bytes) => {
        this.bytesIn += bytes.length;
        handler.onData(bytes);
      },
      onClose: (reason) => {
        this.open.delete(socket);
        handler.onClose(reason);
      },
    });
    this.open.add(socket);
    return socket;
  }

  /** Drops every open connection at the transport: no DISCONNECT, no goodbye. */
  cut(): number {
    const n = this.open.size;
    for (const s of [...this.open]) s.close();
    this.cuts++;
    return n;
  }
}

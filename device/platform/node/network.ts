/** Byte-stream sockets on Node: net for mqtt://, tls for mqtts:// with an optional CA. */
import { connect as netConnect, isIP, type Socket as NetSocket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Network, Socket, SocketHandler, SocketOptions } from "../../ports";

/** How long a closing socket may take to flush before it is torn down. */
const CLOSE_GRACE_MS = 2000;

export const nodeNetwork: Network = {
  connect(options: SocketOptions, handler: SocketHandler): Socket {
    let closedReported = false;
    const reportClose = (reason: string) => {
      if (closedReported) return;
      closedReported = true;
      handler.onClose(reason);
    };
    let sock: NetSocket;
    if (options.tls) {
      sock = tlsConnect({
        host: options.host,
        port: options.port,
        ca: options.tls.ca,
        // SNI carries host names only (RFC 6066 §3); an IP address is still checked against the certificate's IP SANs.
        servername: options.tls.servername ?? (isIP(options.host) ? undefined : options.host),
      });
      sock.once("secureConnect", () => handler.onConnect());
    } else {
      sock = netConnect({ host: options.host, port: options.port });
      sock.once("connect", () => handler.onConnect());
    }
    sock.setNoDelay(true);
    let lastError = "";
    sock.on("data", (chunk: Buffer) => handler.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    sock.on("error", (err: NodeJS.ErrnoException) => {
      lastError = err.code === "ECONNREFUSED" ? "connection refused" : `${err.code ?? "error"}: ${err.message}`;
    });
    sock.on("close", () => reportClose(lastError || "peer closed"));
    let selfClosed = false;
    return {
      write(bytes: Uint8Array): number {
        if (sock.destroyed) return 0;
        sock.write(bytes);
        return sock.writableLength;
      },
      close(): void {
        if (selfClosed) return;
        selfClosed = true;
        lastError = lastError || "closed";
        // end() flushes what was written (a DISCONNECT, a last status) before the FIN;
        // destroy() after a grace period covers a peer that never answers.
        sock.end();
        setTimeout(() => sock.destroy(), CLOSE_GRACE_MS).unref();
      },
    };
  },
};

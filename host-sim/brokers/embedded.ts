/**
 * The embedded broker: aedes, in-process, on a loopback TCP port. It is the default for
 * `npm start` and the in-process interop tests; nothing else needs to be installed.
 */
import { createServer, type AddressInfo, type Server } from "node:net";
import { Aedes } from "aedes";

export interface EmbeddedBroker {
  aedes: Aedes;
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts aedes on host:port (port 0 picks a free one; a busy fixed port falls back to a free one when allowed). */
export async function startEmbeddedBroker(options: { host?: string; port?: number; fallbackToFreePort?: boolean } = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  let port: number;
  try {
    port = await listen(server, host, options.port ?? 0);
  } catch (err) {
    if (!(options.fallbackToFreePort && (err as NodeJS.ErrnoException).code === "EADDRINUSE")) {
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    }
    port = await listen(server, host, 0);
  }
  return {
    aedes,
    host,
    port,
    url: `mqtt://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close();
        aedes.close(() => resolve());
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

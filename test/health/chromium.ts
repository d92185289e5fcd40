/** Shared by the dashboard test and bench: Debian's Chromium, its flags, and a service without a broker. */
import type { ServiceTransport } from "../../service/transport/transport";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** A transport with no broker behind it: the service's data comes straight into its engine. */
export class NullTransport implements ServiceTransport {
  onBatch(): void {}
  async start(): Promise<void> {}
  async publish(): Promise<void> {}
  connected(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

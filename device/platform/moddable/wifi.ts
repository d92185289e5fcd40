/**
 * Wi-Fi bring-up over Moddable's "wifi" module. Station mode; on a disconnect it retries with a
 * capped exponential delay (the radio does not retry by itself). `onUp` fires on every gotIP,
 * `onDown` on every loss, so the agent can hold MQTT reconnects while the link is down.
 */
import WiFi from "wifi";
import type { Clock, Log } from "../../ports";

export const WIFI_RETRY_BASE_MS = 1_000;
export const WIFI_RETRY_CAP_MS = 60_000;

export interface WifiCallbacks {
  onUp(): void;
  onDown(): void;
}

export class WifiLink {
  private wifi: WiFi | undefined;
  private retryTimer: number | undefined;
  private failures = 0;
  private up = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly credentials: { ssid: string; password?: string },
    private readonly callbacks: WifiCallbacks,
  ) {}

  start(): void {
    if (!this.credentials.ssid) throw new Error("wifi: no SSID configured (mcconfig ssid=...)");
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.wifi?.close();
    this.wifi = undefined;
    this.up = false;
  }

  get isUp(): boolean {
    return this.up;
  }

  private connect(): void {
    this.retryTimer = undefined;
    if (this.stopped) return;
    this.wifi?.close();
    const options = this.credentials.password ? { ssid: this.credentials.ssid, password: this.credentials.password } : { ssid: this.credentials.ssid };
    this.wifi = new WiFi(options, (message) => this.event(message));
  }

  private event(message: string): void {
    if (this.stopped) return;
    if (message === WiFi.gotIP) {
      this.failures = 0;
      if (!this.up) {
        this.up = true;
        this.log("info", `wifi: up (${this.credentials.ssid})`);
        this.callbacks.onUp();
      }
    } else if (message === WiFi.disconnected || message === WiFi.lostIP) {
      if (this.up) {
        this.up = false;
        this.log("warn", "wifi: down");
        this.callbacks.onDown();
      }
      if (message === WiFi.disconnected && this.retryTimer === undefined) {
        const delay = Math.min(WIFI_RETRY_CAP_MS, WIFI_RETRY_BASE_MS * 2 ** Math.min(this.failures, 16));
        this.failures++;
        this.retryTimer = this.clock.setTimeout(() => this.connect(), delay);
      }
    }
  }
}

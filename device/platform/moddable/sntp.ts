/**
 * SNTP over Moddable's "sntp" module: sets the system time (Time.set, seconds) so that
 * Date.now() and the WallClock port become valid. Retries every minute until it succeeds,
 * then resyncs every 12 hours to bound drift.
 */
import SNTP from "sntp";
import Time from "time";
import { rethrowHalt, type Clock, type Log } from "../../ports";

export const SNTP_RETRY_MS = 60_000;
export const SNTP_RESYNC_MS = 12 * 60 * 60 * 1000;

export class SntpSync {
  private timer: number | undefined;
  private client: SNTP | undefined;
  synced = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly host: string,
    private readonly onSynced: () => void = () => {},
  ) {}

  start(): void {
    if (this.client || this.timer !== undefined) return;
    this.request();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.client = undefined;
  }

  private request(): void {
    this.timer = undefined;
    try {
      this.client = new SNTP({ host: this.host }, (message, value) => {
        if (message === SNTP.time && typeof value === "number") {
          Time.set(value);
          this.client = undefined;
          const first = !this.synced;
          this.synced = true;
          if (first) this.log("info", `sntp: time set from ${this.host}`);
          this.schedule(SNTP_RESYNC_MS);
          if (first) this.onSynced();
        } else if (message === SNTP.error) {
          this.client = undefined;
          this.log("warn", `sntp: no answer from ${this.host}`);
          this.schedule(SNTP_RETRY_MS);
        }
        // SNTP.retry: the module is trying again itself.
      });
    } catch (e) {
      rethrowHalt(e);
      this.client = undefined;
      this.log("warn", `sntp: ${String(e)}`);
      this.schedule(SNTP_RETRY_MS);
    }
  }

  private schedule(ms: number): void {
    if (this.timer === undefined) this.timer = this.clock.setTimeout(() => this.request(), ms);
  }
}

/**
 * The keep-alive an agent asks for when its config names none. The keep-alive logic
 * (mqtt/keepalive.ts) pings after ¾ of the keep-alive without a send; with the old fixed
 * 60 s and telemetry every 60 s that was a PINGREQ 45 s after every PUBLISH: two of the four
 * packets per report, and a second radio wake a minute. A keep-alive of twice the report
 * interval lets regular telemetry (PUBLISH out, PUBACK in) do the keep-alive's work, and the
 * pings come back only when telemetry stops. Trade-offs are in docs/protocol/mqtt.md.
 */
import { INTERVAL_BOUNDS } from "../config/intervals";

/** Never below the old default: a short report interval gains nothing from a shorter keep-alive. */
export const MIN_DEFAULT_KEEPALIVE_SEC = 60;
/** Report intervals per keep-alive: the ping is due after 1.5 reports without one. */
const REPORTS_PER_KEEPALIVE = 2;
/**
 * The agent's maximum (20 min), which is also AWS IoT Core's largest accepted keep-alive
 * (1200 s): a real broker must never see a longer one.
 */
export const MAX_DEFAULT_KEEPALIVE_SEC = INTERVAL_BOUNDS.keepAliveSec.max;

/** max(60 s, 2 × report interval) in whole seconds, at most 1200 s. */
export function defaultKeepAliveSec(reportIntervalMs: number): number {
  const fromReports = Math.ceil((REPORTS_PER_KEEPALIVE * reportIntervalMs) / 1000);
  return Math.min(MAX_DEFAULT_KEEPALIVE_SEC, Math.max(MIN_DEFAULT_KEEPALIVE_SEC, fromReports));
}

/**
 * Retention: the fleet database keeps telemetry, device events, the audit log and the hourly
 * firmware buckets for a bounded time, so a service running for months neither fills its disk
 * nor reads an ever larger file. A periodic job off the ingest path deletes past each horizon
 * in small batches (one short transaction per table, oldest first through the time indexes),
 * so ingest waits at most one batch. Never pruned: fw_hourly buckets a live rollout compares
 * (from its creation on), the registry (devices), rollouts and alerts.
 */
import type { ServiceClock } from "../clock";
import { parseServiceDuration } from "../duration";
import { WINDOW_LIMIT_HOURS } from "../health/config";
import type { Db } from "./open";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Pause between batches while a table is behind (lets ingest in between). */
const CATCH_UP_MS = 200;
/** The shortest horizon an operator may set: a day, so a typo like "30m" cannot wipe the history. */
const MIN_HORIZON_MS = DAY_MS;
/** fw_hourly is kept at least as long as the longest health window (service/health/config.ts, 7 days). */
const MIN_FW_HOURLY_MS = WINDOW_LIMIT_HOURS * HOUR_MS;

export interface RetentionPolicy {
  /** Horizons in ms (Infinity: keep forever). */
  telemetryMs: number;
  eventsMs: number;
  auditMs: number;
  fwHourlyMs: number;
  /** Rows deleted per table per batch (one transaction each). */
  batchRows: number;
  /** Time between prune runs once every table is caught up. */
  everyMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  telemetryMs: 30 * DAY_MS,
  eventsMs: 90 * DAY_MS,
  auditMs: 365 * DAY_MS,
  fwHourlyMs: 90 * DAY_MS,
  batchRows: 2000,
  everyMs: 60_000,
};

/** The operator's flags, as strings ("30d", "forever"); unset ones keep the default. */
export interface RetentionFlags {
  telemetry?: string;
  events?: string;
  audit?: string;
  fwHourly?: string;
}

/** A policy from the flags, or an Error naming the flag and what it expects. */
export function parseRetention(flags: RetentionFlags, base: RetentionPolicy = DEFAULT_RETENTION): RetentionPolicy {
  const horizon = (v: string | undefined, flag: string, fallback: number, min: number): number => {
    if (v === undefined) return fallback;
    if (v.trim() === "forever") return Infinity;
    const ms = parseServiceDuration(v.trim());
    if (ms === undefined) throw new Error(`${flag} "${v}": expected a duration like 30d or 12h, or "forever"`);
    if (ms < min) throw new Error(`${flag} "${v}": must be at least ${min / HOUR_MS}h`);
    return ms;
  };
  return {
    ...base,
    telemetryMs: horizon(flags.telemetry, "--keep-telemetry", base.telemetryMs, MIN_HORIZON_MS),
    eventsMs: horizon(flags.events, "--keep-events", base.eventsMs, MIN_HORIZON_MS),
    auditMs: horizon(flags.audit, "--keep-audit", base.auditMs, MIN_HORIZON_MS),
    fwHourlyMs: horizon(flags.fwHourly, "--keep-fw-hourly", base.fwHourlyMs, MIN_FW_HOURLY_MS),
  };
}

export interface PruneCounts {
  telemetry: number;
  events: number;
  audit: number;
  fwHourly: number;
}

export class RetentionJob {
  private readonly q;
  private timer: unknown;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly clock: ServiceClock,
    readonly policy: RetentionPolicy,
    private readonly log: (line: string) => void = () => {},
  ) {
    // Oldest first through the time indexes; a batch never scans rows it will not delete.
    this.q = {
      telemetry: db.prepare(
        "DELETE FROM telemetry WHERE (device_id, seq) IN (SELECT device_id, seq FROM telemetry WHERE received_at < ? ORDER BY received_at LIMIT ?)",
      ),
      events: db.prepare("DELETE FROM device_events WHERE id IN (SELECT id FROM device_events WHERE at < ? ORDER BY at LIMIT ?)"),
      audit: db.prepare("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)"),
      fwHourly: db.prepare(
        "DELETE FROM fw_hourly WHERE (device_id, firmware, hour) IN (SELECT device_id, firmware, hour FROM fw_hourly WHERE hour < ? ORDER BY hour LIMIT ?)",
      ),
      oldestLive: db.prepare<[], { at: number | null }>("SELECT min(created_at) AS at FROM rollouts WHERE status NOT IN ('cancelled', 'completed')"),
    };
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.policy.everyMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One bounded pass: at most `batchRows` rows per table, each table in its own transaction. */
  runOnce(): PruneCounts {
    const now = this.clock.now();
    const p = this.policy;
    const n = p.batchRows;
    const del = (stmt: { run(...a: number[]): { changes: number } }, cutoff: number) =>
      Number.isFinite(cutoff) && cutoff > 0 ? this.db.transaction(() => stmt.run(cutoff, n).changes)() : 0;
    // A live rollout compares buckets from the hour it was created (service/rollouts/health.ts).
    const oldestLive = this.q.oldestLive.get()?.at ?? null;
    let fwCutoffHour = Math.floor((now - p.fwHourlyMs) / HOUR_MS);
    if (oldestLive !== null) fwCutoffHour = Math.min(fwCutoffHour, Math.floor(oldestLive / HOUR_MS));
    return {
      telemetry: del(this.q.telemetry, now - p.telemetryMs),
      events: del(this.q.events, now - p.eventsMs),
      audit: del(this.q.audit, now - p.auditMs),
      fwHourly: del(this.q.fwHourly, fwCutoffHour),
    };
  }

  private schedule(ms: number): void {
    this.timer = this.clock.setTimeout(() => this.tick(), ms);
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    let behind = false;
    try {
      const c = this.runOnce();
      const n = this.policy.batchRows;
      behind = c.telemetry >= n || c.events >= n || c.audit >= n || c.fwHourly >= n;
    } catch (err) {
      // A failed prune (disk full, busy) is retried at the next run; ingest goes on.
      this.log(`retention: prune failed: ${(err as Error).message}`);
    }
    if (!this.stopped) this.schedule(behind ? CATCH_UP_MS : this.policy.everyMs);
  }
}

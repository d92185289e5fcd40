/**
 * The report intervals the offline rule judges a device by, kept in SQLite so a restarted service
 * still knows them: the one the latest batch announced (key 15) and the one learned from the batch
 * spacing. Without them a restarted service would judge every device by `assumedIntervalMs` until
 * its next batch (a device reporting every minute that dies across the restart: flagged after 3 h,
 * not 5 min). Last seen is the registry's (devices.last_telemetry).
 *
 * Write cost: a row is written when the announced interval changes or the learned one moves by
 * more than 1/LEARNED_SLACK of what was stored, never once per batch; the rows one ingest batch
 * changed are written in one transaction (HealthEngine.inputs).
 */
import type Database from "better-sqlite3";

/** The learned interval is a moving average: rewrite it only when it moved by more than 1/8. */
const LEARNED_SLACK = 8;

export interface StoredIntervals {
  announcedMs?: number;
  learnedMs: number;
}

/** What was last written for one device (kept on its window: two numbers, no extra map). */
export interface SavedIntervals {
  saved: boolean;
  announcedMs?: number;
  learnedMs: number;
}

/** Whether the current intervals differ enough from the saved ones to be written. */
export function intervalsChanged(saved: SavedIntervals, announcedMs: number | undefined, learnedMs: number): boolean {
  if (!saved.saved || saved.announcedMs !== announcedMs) return true;
  return Math.abs(learnedMs - saved.learnedMs) * LEARNED_SLACK > saved.learnedMs;
}

/** Writes the rows; they are read back at start with the registry's (service/health/seed.ts). */
export class IntervalStore {
  private readonly putRow: Database.Statement<[string, number | null, number, number]>;

  constructor(db: Database.Database) {
    this.putRow = db.prepare(
      `INSERT INTO device_intervals (device_id, announced_ms, learned_ms, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(device_id) DO UPDATE SET announced_ms = excluded.announced_ms, learned_ms = excluded.learned_ms, updated_at = excluded.updated_at`,
    );
  }

  put(deviceId: string, i: StoredIntervals, nowMs: number): void {
    this.putRow.run(deviceId, i.announcedMs ?? null, i.learnedMs, nowMs);
  }
}

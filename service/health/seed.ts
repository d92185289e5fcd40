/**
 * What a starting service knows of each device before the device reports again: the registry's
 * last telemetry time (or last message), firmware and labels, with the report intervals kept for
 * the offline rule (device_intervals), in one query for the whole fleet. Start-up used to read the
 * registry by pages and then one device_intervals row per device
 * (bench/fleet-service-health.bench.ts measures both).
 */
import type Database from "better-sqlite3";
import type { StoredIntervals } from "./interval-store";

export interface KnownDevice {
  id: string;
  lastSeenMs: number;
  firmware?: string;
  group?: string;
  hardware?: string;
  /** Undefined when none were stored (the device never sent telemetry to this build). */
  intervals?: StoredIntervals;
}

interface Row {
  id: string;
  last_seen: number;
  firmware: string | null;
  group_name: string | null;
  hardware: string | null;
  announced_ms: number | null;
  learned_ms: number | null;
}

/** Every device of the registry, in id order (the order a restarted service judges them in). */
export function knownDevices(db: Database.Database): KnownDevice[] {
  const rows = db
    .prepare(
      `SELECT d.id, coalesce(d.last_telemetry, d.last_seen) AS last_seen, d.firmware, d.group_name, d.hardware, i.announced_ms, i.learned_ms
       FROM devices d LEFT JOIN device_intervals i ON i.device_id = d.id ORDER BY d.id`,
    )
    .all() as Row[];
  return rows.map((r) => ({
    id: r.id,
    lastSeenMs: r.last_seen,
    firmware: r.firmware ?? undefined,
    group: r.group_name ?? undefined,
    hardware: r.hardware ?? undefined,
    intervals: r.learned_ms === null ? undefined : { announcedMs: r.announced_ms ?? undefined, learnedMs: r.learned_ms },
  }));
}

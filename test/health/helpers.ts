/** Telemetry batches and an in-memory service database for the health tests. */
import type Database from "better-sqlite3";
import type { TelemetryBatch } from "../../device/core/telemetry/record";
import { openDatabase } from "../../service/db/open";

/** The service's own database, every migration applied (the health tables among them). */
export function healthDb(file = ":memory:"): Database.Database {
  return openDatabase(file);
}

export interface BatchOpts {
  seq: number;
  firmware?: string;
  uptimeMs?: number;
  resetReason?: TelemetryBatch["resetReason"];
  rssi?: number;
  reconnects?: number;
  pct?: number;
  status?: 0 | 1 | 2 | 3 | 4 | 5 | 6;
  alarm?: "none" | "low" | "critical";
  tteMin?: number;
  dropBp?: number;
  slot?: 0 | 1;
  /** Batch key 15, the reporting interval in force (s); absent = firmware that does not send it. */
  intervalSec?: number;
}

export function batch(id: string, o: BatchOpts): TelemetryBatch {
  return {
    deviceId: id,
    seq: o.seq,
    firmware: o.firmware ?? "1.0.0",
    slot: o.slot ?? 0,
    resetReason: o.resetReason ?? "power-on",
    timeBase: "uptime",
    // Up 6 h before the first batch by default: its battery estimates are not young.
    madeAtMs: o.uptimeMs ?? 6 * 3_600_000 + o.seq * 600_000,
    uptimeMs: o.uptimeMs ?? 6 * 3_600_000 + o.seq * 600_000,
    link: { state: "online", reconnects: o.reconnects ?? 0 },
    battery: { mv: 3900, pct: o.pct ?? 80, status: o.status ?? 0, alarm: o.alarm ?? "none", dropBpPerHour: o.dropBp, timeToEmptyMin: o.tteMin },
    samples: o.rssi === undefined ? [] : [{ tMs: 0, rssiDbm: o.rssi }],
    ...(o.intervalSec !== undefined ? { reportIntervalSec: o.intervalSec } : {}),
  };
}

/** A settable clock. */
export class TestClock {
  constructor(public t = Date.UTC(2026, 10, 1)) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

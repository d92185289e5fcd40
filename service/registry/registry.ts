/** Read side of the registry (devices, one device with its history) and operator labels. */
import type { Db } from "../db/open";

export interface DeviceFilter {
  /** Exact firmware version text. */
  firmware?: string;
  group?: string;
  hardware?: string;
  online?: boolean;
  /** Device id prefix. */
  prefix?: string;
  limit: number;
  offset: number;
}

export type DeviceRecord = Record<string, unknown> & { id: string };

export class Registry {
  private readonly labelListeners: ((id: string) => void)[] = [];

  constructor(private readonly db: Db) {}

  /** Called after a device's labels changed (the rollout runner keeps succeeded devices by their labels). */
  onLabels(listener: (id: string) => void): void {
    this.labelListeners.push(listener);
  }

  list(f: DeviceFilter): { total: number; devices: DeviceRecord[] } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (f.firmware !== undefined) (where.push("firmware = @firmware"), (args.firmware = f.firmware));
    if (f.group !== undefined) (where.push("group_name = @group"), (args.group = f.group));
    if (f.hardware !== undefined) (where.push("hardware = @hardware"), (args.hardware = f.hardware));
    if (f.online !== undefined) (where.push("online = @online"), (args.online = f.online ? 1 : 0));
    if (f.prefix !== undefined) (where.push("substr(id, 1, length(@prefix)) = @prefix"), (args.prefix = f.prefix));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const total = (this.db.prepare(`SELECT count(*) AS n FROM devices ${clause}`).get(args) as { n: number }).n;
    const devices = this.db.prepare(`SELECT * FROM devices ${clause} ORDER BY id LIMIT @limit OFFSET @offset`).all({ ...args, limit: f.limit, offset: f.offset }) as DeviceRecord[];
    return { total, devices };
  }

  get(id: string): DeviceRecord | undefined {
    return this.db.prepare("SELECT * FROM devices WHERE id = ?").get(id) as DeviceRecord | undefined;
  }

  /** The device's recent events (boots, online/offline, OTA statuses) and telemetry, newest first. */
  history(id: string, limit: number): { events: unknown[]; telemetry: unknown[] } {
    const events = this.db
      .prepare("SELECT at, kind, firmware, detail FROM device_events WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT ?")
      .all(id, limit)
      .map((e) => {
        const r = e as { detail: string | null };
        return { ...r, detail: r.detail === null ? null : JSON.parse(r.detail) };
      });
    const telemetry = this.db
      .prepare(
        "SELECT seq, received_at, made_at, firmware, uptime_ms, reset_reason, battery_pct, battery_mv, battery_status, drop_bp_per_hour, time_to_empty_min, reconnects, rssi_dbm FROM telemetry WHERE device_id = ? ORDER BY seq DESC LIMIT ?",
      )
      .all(id, limit);
    return { events, telemetry };
  }

  /** Operator labels used by rollout targets; creates the device if the service has not heard from it yet. */
  setLabels(id: string, labels: { group?: string | null; hardware?: string | null }, now: number): void {
    this.db.prepare("INSERT INTO devices (id, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING").run(id, now, now);
    if (labels.group !== undefined) this.db.prepare("UPDATE devices SET group_name = ? WHERE id = ?").run(labels.group, id);
    if (labels.hardware !== undefined) this.db.prepare("UPDATE devices SET hardware = ? WHERE id = ?").run(labels.hardware, id);
    for (const l of this.labelListeners) l(id);
  }
}

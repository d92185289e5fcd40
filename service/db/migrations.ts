/**
 * The schema, as an ordered list of migrations. Migration i (1-based) brings a database from
 * `PRAGMA user_version` i-1 to i. Append only: never edit or reorder a migration that has
 * landed, since databases in the field already ran it. Another module adds its tables by
 * appending an entry here (service/health adds alerts and actions).
 */
import { HEALTH_MIGRATIONS } from "../health/schema";

export interface Migration {
  /** What it adds, for error messages and the docs. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: "registry: devices, telemetry, device events, audit",
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,          -- receive time of the last message of any kind, unix ms
        last_telemetry INTEGER,              -- receive time of the last telemetry batch
        online INTEGER,                      -- 1 online, 0 offline (retained status / will), NULL unknown
        status_at INTEGER,
        firmware TEXT,
        firmware_num INTEGER,                -- MAJOR*1e6 + MINOR*1e3 + PATCH, for comparisons
        slot INTEGER,
        reset_reason TEXT,
        uptime_ms INTEGER,
        boots INTEGER NOT NULL DEFAULT 0,    -- boots seen (uptime went backwards, or first batch)
        crash_resets INTEGER NOT NULL DEFAULT 0, -- boots after panic or watchdog
        battery_mv INTEGER,
        battery_pct INTEGER,
        battery_status INTEGER,              -- LwM2M /3 battery status
        battery_alarm TEXT,
        drop_bp_per_hour INTEGER,
        time_to_empty_min INTEGER,
        link_state TEXT,
        reconnects_boot INTEGER,             -- reconnects since boot, as last reported
        reconnects_total INTEGER NOT NULL DEFAULT 0,
        rssi_dbm INTEGER,                    -- latest sample's RSSI
        last_seq INTEGER,
        telemetry_count INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        ota_state INTEGER,                   -- LwM2M /5 state of the last OTA status
        ota_result INTEGER,                  -- LwM2M /5 result (+ Tether extensions)
        ota_version INTEGER,
        ota_detail TEXT,
        ota_at INTEGER,
        group_name TEXT,                     -- operator labels (API / scenario), used by rollout targets
        hardware TEXT
      );
      CREATE INDEX devices_firmware ON devices(firmware_num);
      CREATE INDEX devices_group ON devices(group_name);

      CREATE TABLE telemetry (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        made_at INTEGER,                     -- device time (unix ms when wall-synced)
        wall INTEGER NOT NULL,               -- 1 when made_at is wall time
        firmware TEXT,
        uptime_ms INTEGER,
        reset_reason TEXT,
        battery_pct INTEGER,
        battery_mv INTEGER,
        battery_status INTEGER,
        drop_bp_per_hour INTEGER,
        time_to_empty_min INTEGER,
        reconnects INTEGER,
        rssi_dbm INTEGER,                    -- median of the batch's samples
        samples INTEGER NOT NULL,
        samples_dropped INTEGER,
        PRIMARY KEY (device_id, seq)         -- dedupes QoS 1 redeliveries
      ) WITHOUT ROWID;
      CREATE INDEX telemetry_time ON telemetry(received_at);

      CREATE TABLE device_events (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,                  -- online, offline, boot, ota, duplicate-seq ...
        firmware TEXT,
        detail TEXT                          -- JSON
      );
      CREATE INDEX device_events_device ON device_events(device_id, at);
      CREATE INDEX device_events_kind ON device_events(kind, at);

      CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        remote TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        body TEXT
      );
    `,
  },
  {
    name: "rollouts: rollouts, their devices and events; per firmware hourly health buckets",
    sql: `
      CREATE TABLE fw_hourly (
        device_id TEXT NOT NULL,
        firmware TEXT NOT NULL,
        hour INTEGER NOT NULL,               -- unix ms / 3600000
        exposure_ms INTEGER NOT NULL DEFAULT 0, -- time between consecutive reports on this firmware (capped)
        telemetry INTEGER NOT NULL DEFAULT 0,
        crash_resets INTEGER NOT NULL DEFAULT 0, -- panic/watchdog boots, charged to the firmware that was running
        reconnects INTEGER NOT NULL DEFAULT 0,
        gaps INTEGER NOT NULL DEFAULT 0,     -- batches missing by sequence number
        drop_sum INTEGER NOT NULL DEFAULT 0, -- sum of reported discharge rates, 0.01 %/h
        drop_n INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, firmware, hour)
      ) WITHOUT ROWID;
      CREATE INDEX fw_hourly_fw ON fw_hourly(firmware, hour);

      CREATE TABLE rollouts (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        spec TEXT NOT NULL,                  -- JSON RolloutSpec
        status TEXT NOT NULL,                -- running, paused, halted, cancelled, completed
        wave INTEGER NOT NULL,
        wave_started_at INTEGER,
        wave_succeeded_at INTEGER,
        halt_rule TEXT,
        halt_detail TEXT,                    -- JSON: the numbers behind the halt
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      );

      CREATE TABLE rollout_devices (
        rollout_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        wave INTEGER NOT NULL,
        state TEXT NOT NULL,
        result INTEGER,
        cause INTEGER,
        from_version INTEGER,
        offered_at INTEGER,
        offers INTEGER NOT NULL DEFAULT 0,
        progress_at INTEGER,
        updated_at INTEGER NOT NULL,
        retries INTEGER NOT NULL DEFAULT 0,
        interrupted INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        rollback_at INTEGER,
        rollback_result INTEGER,
        PRIMARY KEY (rollout_id, device_id)
      ) WITHOUT ROWID;
      CREATE INDEX rollout_devices_device ON rollout_devices(device_id);

      CREATE TABLE rollout_events (
        id INTEGER PRIMARY KEY,
        rollout_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX rollout_events_rollout ON rollout_events(rollout_id, at);
    `,
  },
  // service/health: alerts, the actions outbox, commissioning results.
  ...HEALTH_MIGRATIONS,
  {
    // service/db/retention.ts deletes the oldest rows in batches through these (telemetry has telemetry_time).
    name: "retention: time indexes on device_events, audit and fw_hourly",
    sql: `
      CREATE INDEX device_events_at ON device_events(at);
      CREATE INDEX audit_at ON audit(at);
      CREATE INDEX fw_hourly_hour ON fw_hourly(hour);
    `,
  },
];

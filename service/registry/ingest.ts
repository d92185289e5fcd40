/**
 * Ingest: every device message into the registry, one SQLite transaction per batch the
 * transport hands over. Decoding is device/core's codecs. QoS 1 redeliveries are dropped by
 * the (device, seq) primary key of the telemetry table. Bad payloads are counted and skipped;
 * they never stop the batch.
 *
 * After each committed batch, listeners (the rollout engine, health rules) get the changes
 * that matter to them: online/offline transitions, boots, OTA statuses, fresh telemetry.
 */
import { decodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";
import { decodeStatus, type OtaStatus } from "../../device/core/ota/status";
import { versionNumber, versionString } from "../../device/core/ota/version";
import type { ServiceClock } from "../clock";
import type { Db } from "../db/open";
import type { InboundMessage } from "../transport/transport";
import { parseDeviceTopic } from "./topics";

/** Reset reasons that count as crashes in health comparisons (docs/fleet-service.md). */
export const CRASH_RESET_REASONS = new Set(["panic", "watchdog"]);
const MAX_STATUS_BYTES = 64;
/** LwM2M /3 battery status "normal": on battery, not in low-battery mode. */
const BATTERY_NORMAL = 0;
/** Uptime after which a device's own drain estimate is counted in the per-firmware health buckets. */
export const DRAIN_SETTLED_UPTIME_MS = 6 * 3_600_000;
/** Longest gap between two reports that still counts as observed time on a firmware. */
export const MAX_EXPOSURE_STEP_MS = 2 * 3_600_000;
/** A sequence jump larger than this is a reset of the counter, not lost batches. */
const MAX_GAP_COUNT = 10_000;


export type DeviceChange =
  | { kind: "telemetry"; deviceId: string; at: number; batch: TelemetryBatch }
  | { kind: "online" | "offline"; deviceId: string; at: number }
  | { kind: "boot"; deviceId: string; at: number; reason: string; firmware: string }
  | { kind: "ota"; deviceId: string; at: number; status: OtaStatus };

export interface IngestStats {
  messages: number;
  telemetry: number;
  duplicates: number;
  rejected: number;
  batches: number;
}

interface DeviceRow {
  last_seq: number | null;
  uptime_ms: number | null;
  reconnects_boot: number | null;
  online: number | null;
  ota_state: number | null;
  ota_result: number | null;
  ota_version: number | null;
  ota_detail: string | null;
  firmware: string | null;
  last_telemetry: number | null;
  reset_reason: string | null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function safeVersion(s: string): number | null {
  try {
    return versionNumber(s);
  } catch {
    return null;
  }
}

export class Ingest {
  readonly stats: IngestStats = { messages: 0, telemetry: 0, duplicates: 0, rejected: 0, batches: 0 };
  private readonly listeners: ((changes: DeviceChange[]) => void)[] = [];
  private lastRejectLog = -Infinity;
  private readonly q;

  constructor(
    private readonly db: Db,
    private readonly clock: ServiceClock,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.q = {
      device: db.prepare<[string], DeviceRow>(
        "SELECT last_seq, uptime_ms, reconnects_boot, online, ota_state, ota_result, ota_version, ota_detail, firmware, last_telemetry, reset_reason FROM devices WHERE id = ?",
      ),
      ensure: db.prepare("INSERT INTO devices (id, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING"),
      seen: db.prepare("UPDATE devices SET last_seen = max(last_seen, ?) WHERE id = ?"),
      insertTelemetry: db.prepare(
        `INSERT OR IGNORE INTO telemetry (device_id, seq, received_at, made_at, wall, firmware, uptime_ms, reset_reason, battery_pct,
           battery_mv, battery_status, drop_bp_per_hour, time_to_empty_min, reconnects, rssi_dbm, samples, samples_dropped)
         VALUES (@id, @seq, @at, @madeAt, @wall, @firmware, @uptime, @reset, @pct, @mv, @bstatus, @drop, @tte, @reconnects, @rssi, @samples, @dropped)`,
      ),
      duplicate: db.prepare("UPDATE devices SET duplicates = duplicates + 1 WHERE id = ?"),
      countOnly: db.prepare("UPDATE devices SET telemetry_count = telemetry_count + 1, last_telemetry = max(coalesce(last_telemetry, 0), ?) WHERE id = ?"),
      current: db.prepare(
        `UPDATE devices SET last_telemetry = @at, telemetry_count = telemetry_count + 1, firmware = @firmware, firmware_num = @fwNum,
           slot = @slot, reset_reason = @reset, uptime_ms = @uptime, boots = boots + @boot, crash_resets = crash_resets + @crash,
           battery_mv = coalesce(@mv, battery_mv), battery_pct = coalesce(@pct, battery_pct), battery_status = coalesce(@bstatus, battery_status),
           battery_alarm = coalesce(@alarm, battery_alarm), drop_bp_per_hour = @drop, time_to_empty_min = @tte,
           link_state = coalesce(@linkState, link_state), reconnects_boot = coalesce(@reconnects, reconnects_boot),
           reconnects_total = reconnects_total + @reconnectDelta, rssi_dbm = coalesce(@rssi, rssi_dbm), last_seq = @seq
         WHERE id = @id`,
      ),
      online: db.prepare("UPDATE devices SET online = ?, status_at = ? WHERE id = ?"),
      ota: db.prepare(
        `UPDATE devices SET ota_state = @state, ota_result = @result, ota_version = @version, ota_detail = @detail, ota_at = @at,
           firmware_num = @running, firmware = CASE WHEN firmware_num IS @running THEN firmware ELSE @runningText END WHERE id = @id`,
      ),
      hourly: db.prepare(
        `INSERT INTO fw_hourly (device_id, firmware, hour, exposure_ms, telemetry, crash_resets, reconnects, gaps, drop_sum, drop_n)
         VALUES (@id, @firmware, @hour, @exposure, 1, @crash, @reconnects, @gaps, @drop, @dropN)
         ON CONFLICT(device_id, firmware, hour) DO UPDATE SET exposure_ms = exposure_ms + @exposure, telemetry = telemetry + 1,
           crash_resets = crash_resets + @crash, reconnects = reconnects + @reconnects, gaps = gaps + @gaps,
           drop_sum = drop_sum + @drop, drop_n = drop_n + @dropN`,
      ),
      event: db.prepare("INSERT INTO device_events (device_id, at, kind, firmware, detail) VALUES (?, ?, ?, ?, ?)"),
    };
  }

  /** Called after each committed batch with what changed. */
  onChanges(listener: (changes: DeviceChange[]) => void): void {
    this.listeners.push(listener);
  }

  /** Stores one batch in one transaction; throws only if the database refuses (then nothing is stored). */
  handle(batch: InboundMessage[]): void {
    const now = this.clock.now();
    const changes: DeviceChange[] = [];
    this.db.transaction(() => {
      for (const m of batch) this.one(m, now, changes);
    })();
    this.stats.batches++;
    this.stats.messages += batch.length;
    if (changes.length > 0) for (const l of this.listeners) l(changes);
  }

  private reject(topic: string, reason: string): void {
    this.stats.rejected++;
    const now = this.clock.now();
    if (now - this.lastRejectLog >= 10_000) {
      this.lastRejectLog = now;
      this.log(`ingest: ignored a message on ${topic}: ${reason} (${this.stats.rejected} ignored so far)`);
    }
  }

  private one(m: InboundMessage, now: number, changes: DeviceChange[]): void {
    const t = parseDeviceTopic(m.topic);
    if (!t) return this.reject(m.topic, "not a device topic");
    const id = t.deviceId;
    if (t.kind === "telemetry") return this.telemetry(id, m, now, changes);
    if (t.kind === "status") return this.status(id, m, now, changes);
    return this.otaStatus(id, m, now, changes);
  }

  private touch(id: string, now: number, fresh: boolean): void {
    this.q.ensure.run(id, now, now);
    if (fresh) this.q.seen.run(now, id);
  }

  private telemetry(id: string, m: InboundMessage, now: number, changes: DeviceChange[]): void {
    let b: TelemetryBatch;
    try {
      b = decodeTelemetryBatch(m.payload);
    } catch (err) {
      return this.reject(m.topic, (err as Error).message);
    }
    if (b.deviceId !== id) return this.reject(m.topic, `batch names device "${b.deviceId}"`);
    this.touch(id, now, true);
    const rssi = median(b.samples.filter((s) => s.rssiDbm !== undefined).map((s) => s.rssiDbm!));
    const inserted = this.q.insertTelemetry.run({
      id, seq: b.seq, at: now, madeAt: b.madeAtMs, wall: b.timeBase === "wall" ? 1 : 0, firmware: b.firmware, uptime: b.uptimeMs,
      reset: b.resetReason, pct: b.battery?.pct ?? null, mv: b.battery?.mv ?? null, bstatus: b.battery?.status ?? null,
      drop: b.battery?.dropBpPerHour ?? null, tte: b.battery?.timeToEmptyMin ?? null, reconnects: b.link?.reconnects ?? null,
      rssi, samples: b.samples.length, dropped: b.samplesDropped ?? null,
    });
    if (inserted.changes === 0) {
      this.stats.duplicates++;
      this.q.duplicate.run(id);
      return;
    }
    this.stats.telemetry++;
    const prev = this.q.device.get(id)!;
    if (prev.last_seq !== null && b.seq < prev.last_seq) {
      // A late batch (redelivered after newer ones): history only, the current state stays.
      this.q.countOnly.run(now, id);
      return;
    }
    // A new boot: uptime went back, or (a clock that does not restart with the chip) the reset
    // reason or the firmware changed.
    const boot =
      prev.uptime_ms !== null && (b.uptimeMs < prev.uptime_ms || (prev.reset_reason !== null && prev.reset_reason !== b.resetReason) || (prev.firmware !== null && prev.firmware !== b.firmware));
    const crash = boot && CRASH_RESET_REASONS.has(b.resetReason);
    const reconnects = b.link?.reconnects ?? null;
    const reconnectDelta =
      reconnects === null ? 0 : boot || prev.reconnects_boot === null ? (boot ? reconnects : 0) : Math.max(0, reconnects - prev.reconnects_boot);
    this.q.current.run({
      id, at: now, firmware: b.firmware, fwNum: safeVersion(b.firmware), slot: b.slot, reset: b.resetReason, uptime: b.uptimeMs,
      boot: boot ? 1 : 0, crash: crash ? 1 : 0, mv: b.battery?.mv ?? null, pct: b.battery?.pct ?? null, bstatus: b.battery?.status ?? null,
      alarm: b.battery?.alarm ?? null, drop: b.battery?.dropBpPerHour ?? null, tte: b.battery?.timeToEmptyMin ?? null,
      linkState: b.link?.state ?? null, reconnects, reconnectDelta, rssi, seq: b.seq,
    });
    // Health buckets per firmware: exposure is the time since the previous report on the same
    // firmware (capped, so an offline week is not counted as healthy time); a crash is charged to
    // the firmware that was running before the reset.
    const sameFw = prev.firmware === b.firmware && prev.last_telemetry !== null;
    const exposure = sameFw ? Math.min(Math.max(0, now - prev.last_telemetry!), MAX_EXPOSURE_STEP_MS) : 0;
    // Lost batches: a jump in seq within one boot. Not across a reboot: each boot skips to the
    // next multiple of 16 (docs/protocol/telemetry.md), and boots that sent nothing (a crash
    // loop, a trial) each skip again, so a gap there says nothing about loss.
    const gaps = prev.last_seq === null || boot ? 0 : Math.max(0, Math.min(b.seq - prev.last_seq - 1, MAX_GAP_COUNT));
    // Drain counts only on battery in normal mode (LwM2M /3 status 0): on a charger (1, 2) it says
    // nothing about the firmware, and in low-battery mode (4) the agent stretches its reports and
    // sleeps, so a cohort with plugged-in or nearly flat devices would look better than it is.
    // And only once the estimate has settled after a boot: it restarts at every boot (an update is
    // one), and its first hours differ from a long-running device's (in rollout-good-small.json a
    // good release read 0.65–1.15 %/h 1.5–5 h after its update against 0.18–0.33 %/h for the same
    // hours after the previous update, with the same true drain); service/health/cohorts.ts waits as long.
    const drop = b.battery?.status === BATTERY_NORMAL && b.uptimeMs >= DRAIN_SETTLED_UPTIME_MS ? b.battery.dropBpPerHour : undefined;
    this.q.hourly.run({
      id, firmware: b.firmware, hour: Math.floor(now / 3_600_000), exposure, crash: 0, reconnects: reconnectDelta, gaps,
      drop: drop ?? 0, dropN: drop === undefined ? 0 : 1,
    });
    if (crash && prev.firmware !== null) {
      this.q.hourly.run({ id, firmware: prev.firmware, hour: Math.floor(now / 3_600_000), exposure: 0, crash: 1, reconnects: 0, gaps: 0, drop: 0, dropN: 0 });
    }
    if (boot) {
      this.q.event.run(id, now, "boot", b.firmware, JSON.stringify({ reason: b.resetReason }));
      changes.push({ kind: "boot", deviceId: id, at: now, reason: b.resetReason, firmware: b.firmware });
    }
    if (prev.firmware !== null && prev.firmware !== b.firmware) {
      this.q.event.run(id, now, "firmware", b.firmware, JSON.stringify({ from: prev.firmware }));
    }
    if (prev.online !== 1) {
      // Telemetry flows only over a live connection: a stale retained "offline" (redelivered on a
      // resubscribe or by a cluster failover) must not keep the device offline.
      this.q.online.run(1, now, id);
      this.q.event.run(id, now, "online", b.firmware, JSON.stringify({ from: "telemetry" }));
      changes.push({ kind: "online", deviceId: id, at: now });
    }
    changes.push({ kind: "telemetry", deviceId: id, at: now, batch: b });
  }

  private status(id: string, m: InboundMessage, now: number, changes: DeviceChange[]): void {
    if (m.payload.length > MAX_STATUS_BYTES) return this.reject(m.topic, "status longer than 64 bytes");
    const text = String.fromCharCode(...m.payload);
    if (text !== "online" && text !== "offline") return this.reject(m.topic, "status is neither online nor offline");
    this.touch(id, now, !m.retain);
    const online = text === "online" ? 1 : 0;
    const prev = this.q.device.get(id)!;
    if (prev.online === online) return;
    this.q.online.run(online, now, id);
    this.q.event.run(id, now, text, prev.firmware, null);
    changes.push({ kind: text, deviceId: id, at: now });
  }

  private otaStatus(id: string, m: InboundMessage, now: number, changes: DeviceChange[]): void {
    if (m.payload.length === 0) return; // a cleared retained status
    let s: OtaStatus;
    try {
      s = decodeStatus(m.payload);
    } catch (err) {
      return this.reject(m.topic, (err as Error).message);
    }
    this.touch(id, now, !m.retain);
    const prev = this.q.device.get(id)!;
    const detail = s.detail ?? null;
    const same = prev.ota_state === s.state && prev.ota_result === s.result && prev.ota_version === (s.version ?? null) && prev.ota_detail === detail;
    // Progress reports (downloading, result 0) update the row without filling the history.
    this.q.ota.run({ id, state: s.state, result: s.result, version: s.version ?? null, detail, at: now, running: s.running, runningText: versionString(s.running) });
    if (same) return;
    const progress = s.state === 1 && s.result === 0 && prev.ota_state === 1 && prev.ota_version === (s.version ?? null);
    if (!progress) {
      this.q.event.run(id, now, "ota", prev.firmware, JSON.stringify({ state: s.state, result: s.result, version: s.version, running: s.running, detail: s.detail }));
    }
    changes.push({ kind: "ota", deviceId: id, at: now, status: s });
  }
}

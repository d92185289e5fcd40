/**
 * Ingest: every device message into the registry, one SQLite transaction per batch the
 * transport hands over. Decoding is device/core's codecs. QoS 1 redeliveries are dropped by
 * the (device, seq) primary key of the telemetry table. Bad payloads are counted and skipped;
 * they never stop the batch.
 *
 * After each committed batch, listeners (the rollout engine, health rules) get the changes
 * that matter to them: online/offline transitions, boots, OTA statuses, fresh telemetry.
 *
 * Speed (bench/fleet-service.bench.ts): the columns ingest reads back are kept in memory per
 * device (loaded from the database the first time a device is seen after a start), so a report
 * costs three writes: its telemetry row, its device row and its hourly health bucket. Only
 * ingest writes those columns (the API writes labels); a batch whose transaction fails empties
 * the cache, so it never holds what the database does not.
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
/** Distinct firmware strings whose version number is remembered. */
const MAX_REMEMBERED_VERSIONS = 1_000;


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

/** The columns of a devices row that ingest reads back, as stored. */
interface DeviceRow {
  last_seen: number;
  last_seq: number | null;
  uptime_ms: number | null;
  reconnects_boot: number | null;
  online: number | null;
  ota_state: number | null;
  ota_result: number | null;
  ota_version: number | null;
  ota_detail: string | null;
  firmware: string | null;
  firmware_num: number | null;
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
  /** Device id → its row's columns ingest reads, kept equal to the committed database. */
  private readonly devices = new Map<string, DeviceRow>();
  private readonly versions = new Map<string, number | null>();

  constructor(
    private readonly db: Db,
    private readonly clock: ServiceClock,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.q = {
      device: db.prepare<[string], DeviceRow>(
        "SELECT last_seen, last_seq, uptime_ms, reconnects_boot, online, ota_state, ota_result, ota_version, ota_detail, firmware, firmware_num, last_telemetry, reset_reason FROM devices WHERE id = ?",
      ),
      create: db.prepare("INSERT INTO devices (id, first_seen, last_seen) VALUES (?, ?, ?)"),
      seen: db.prepare("UPDATE devices SET last_seen = ? WHERE id = ?"),
      insertTelemetry: db.prepare(
        `INSERT OR IGNORE INTO telemetry (device_id, seq, received_at, made_at, wall, firmware, uptime_ms, reset_reason, battery_pct,
           battery_mv, battery_status, drop_bp_per_hour, time_to_empty_min, reconnects, rssi_dbm, samples, samples_dropped)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      duplicate: db.prepare("UPDATE devices SET duplicates = duplicates + 1, last_seen = ? WHERE id = ?"),
      countOnly: db.prepare("UPDATE devices SET telemetry_count = telemetry_count + 1, last_telemetry = ?, last_seen = ? WHERE id = ?"),
      // Only when the firmware changed: firmware_num is indexed, and naming it in a SET rewrites its index entry.
      firmware: db.prepare("UPDATE devices SET firmware = ?, firmware_num = ? WHERE id = ?"),
      current: db.prepare(
        `UPDATE devices SET last_seen = ?, last_telemetry = ?, telemetry_count = telemetry_count + 1,
           slot = ?, reset_reason = ?, uptime_ms = ?, boots = boots + ?, crash_resets = crash_resets + ?,
           battery_mv = coalesce(?, battery_mv), battery_pct = coalesce(?, battery_pct), battery_status = coalesce(?, battery_status),
           battery_alarm = coalesce(?, battery_alarm), drop_bp_per_hour = ?, time_to_empty_min = ?,
           link_state = coalesce(?, link_state), reconnects_boot = coalesce(?, reconnects_boot),
           reconnects_total = reconnects_total + ?, rssi_dbm = coalesce(?, rssi_dbm), last_seq = ?
         WHERE id = ?`,
      ),
      online: db.prepare("UPDATE devices SET online = ?, status_at = ? WHERE id = ?"),
      ota: db.prepare(
        `UPDATE devices SET ota_state = @state, ota_result = @result, ota_version = @version, ota_detail = @detail, ota_at = @at,
           firmware_num = @running, firmware = @runningText WHERE id = @id`,
      ),
      hourly: db.prepare(
        `INSERT INTO fw_hourly (device_id, firmware, hour, exposure_ms, telemetry, crash_resets, reconnects, gaps, drop_sum, drop_n)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(device_id, firmware, hour) DO UPDATE SET exposure_ms = exposure_ms + excluded.exposure_ms,
           telemetry = telemetry + excluded.telemetry, crash_resets = crash_resets + excluded.crash_resets,
           reconnects = reconnects + excluded.reconnects, gaps = gaps + excluded.gaps,
           drop_sum = drop_sum + excluded.drop_sum, drop_n = drop_n + excluded.drop_n`,
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
    try {
      this.db.transaction(() => {
        for (const m of batch) this.one(m, now, changes);
      })();
    } catch (err) {
      this.devices.clear(); // rolled back: the cache may hold what was not committed
      throw err;
    }
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

  /** versionNumber of a firmware string, or null; remembered (a fleet runs a handful of versions). */
  private versionOf(firmware: string): number | null {
    let v = this.versions.get(firmware);
    if (v === undefined) {
      if (this.versions.size >= MAX_REMEMBERED_VERSIONS) this.versions.clear(); // junk from a hostile device
      v = safeVersion(firmware);
      this.versions.set(firmware, v);
    }
    return v;
  }

  /** The device's cached row, read from the database (or created there) the first time. */
  private device(id: string, now: number): DeviceRow {
    let d = this.devices.get(id);
    if (d) return d;
    d = this.q.device.get(id);
    if (!d) {
      this.q.create.run(id, now, now);
      d = {
        last_seen: now, last_seq: null, uptime_ms: null, reconnects_boot: null, online: null, ota_state: null, ota_result: null, ota_version: null,
        ota_detail: null, firmware: null, firmware_num: null, last_telemetry: null, reset_reason: null,
      };
    }
    this.devices.set(id, d);
    return d;
  }

  /** The device's row, with last_seen moved on for a fresh (not retained) message. */
  private touch(id: string, now: number, fresh: boolean): DeviceRow {
    const d = this.device(id, now);
    if (fresh && now > d.last_seen) {
      this.q.seen.run(now, id);
      d.last_seen = now;
    }
    return d;
  }

  private telemetry(id: string, m: InboundMessage, now: number, changes: DeviceChange[]): void {
    let b: TelemetryBatch;
    try {
      b = decodeTelemetryBatch(m.payload);
    } catch (err) {
      return this.reject(m.topic, (err as Error).message);
    }
    if (b.deviceId !== id) return this.reject(m.topic, `batch names device "${b.deviceId}"`);
    const prev = this.device(id, now);
    const rssi = median(b.samples.filter((s) => s.rssiDbm !== undefined).map((s) => s.rssiDbm!));
    const battery = b.battery;
    const inserted = this.q.insertTelemetry.run(
      id, b.seq, now, b.madeAtMs, b.timeBase === "wall" ? 1 : 0, b.firmware, b.uptimeMs, b.resetReason, battery?.pct ?? null, battery?.mv ?? null,
      battery?.status ?? null, battery?.dropBpPerHour ?? null, battery?.timeToEmptyMin ?? null, b.link?.reconnects ?? null, rssi, b.samples.length,
      b.samplesDropped ?? null,
    );
    const seen = Math.max(prev.last_seen, now);
    if (inserted.changes === 0) {
      this.stats.duplicates++;
      this.q.duplicate.run(seen, id);
      prev.last_seen = seen;
      return;
    }
    this.stats.telemetry++;
    if (prev.last_seq !== null && b.seq < prev.last_seq) {
      // A late batch (redelivered after newer ones): history only, the current state stays.
      const last = Math.max(prev.last_telemetry ?? 0, now);
      this.q.countOnly.run(last, seen, id);
      prev.last_telemetry = last;
      prev.last_seen = seen;
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
    const fwNum = this.versionOf(b.firmware);
    if (prev.firmware !== b.firmware || prev.firmware_num !== fwNum) this.q.firmware.run(b.firmware, fwNum, id);
    this.q.current.run(
      seen, now, b.slot, b.resetReason, b.uptimeMs, boot ? 1 : 0, crash ? 1 : 0, battery?.mv ?? null, battery?.pct ?? null, battery?.status ?? null,
      battery?.alarm ?? null, battery?.dropBpPerHour ?? null, battery?.timeToEmptyMin ?? null, b.link?.state ?? null, reconnects, reconnectDelta, rssi,
      b.seq, id,
    );
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
    const hour = Math.floor(now / 3_600_000);
    this.q.hourly.run(id, b.firmware, hour, exposure, 1, 0, reconnectDelta, gaps, drop ?? 0, drop === undefined ? 0 : 1);
    if (crash && prev.firmware !== null) this.q.hourly.run(id, prev.firmware, hour, 0, 0, 1, 0, 0, 0, 0);
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
    // What the statements above wrote, in the cache (read back by the next message).
    prev.last_seen = seen;
    prev.last_telemetry = now;
    prev.firmware = b.firmware;
    prev.firmware_num = fwNum;
    prev.reset_reason = b.resetReason;
    prev.uptime_ms = b.uptimeMs;
    if (reconnects !== null) prev.reconnects_boot = reconnects;
    prev.last_seq = b.seq;
    prev.online = 1;
    changes.push({ kind: "telemetry", deviceId: id, at: now, batch: b });
  }

  private status(id: string, m: InboundMessage, now: number, changes: DeviceChange[]): void {
    if (m.payload.length > MAX_STATUS_BYTES) return this.reject(m.topic, "status longer than 64 bytes");
    const text = String.fromCharCode(...m.payload);
    if (text !== "online" && text !== "offline") return this.reject(m.topic, "status is neither online nor offline");
    const prev = this.touch(id, now, !m.retain);
    const online = text === "online" ? 1 : 0;
    if (prev.online === online) return;
    this.q.online.run(online, now, id);
    prev.online = online;
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
    const prev = this.touch(id, now, !m.retain);
    const detail = s.detail ?? null;
    const version = s.version ?? null;
    const same = prev.ota_state === s.state && prev.ota_result === s.result && prev.ota_version === version && prev.ota_detail === detail;
    const firmware = prev.firmware_num === s.running ? prev.firmware : versionString(s.running);
    // Progress reports (downloading, result 0) update the row without filling the history.
    this.q.ota.run({ id, state: s.state, result: s.result, version, detail, at: now, running: s.running, runningText: firmware });
    const before = { state: prev.ota_state, version: prev.ota_version, firmware: prev.firmware };
    prev.ota_state = s.state;
    prev.ota_result = s.result;
    prev.ota_version = version;
    prev.ota_detail = detail;
    prev.firmware_num = s.running;
    prev.firmware = firmware;
    if (same) return;
    const progress = s.state === 1 && s.result === 0 && before.state === 1 && before.version === version;
    if (!progress) {
      this.q.event.run(id, now, "ota", before.firmware, JSON.stringify({ state: s.state, result: s.result, version: s.version, running: s.running, detail: s.detail }));
    }
    changes.push({ kind: "ota", deviceId: id, at: now, status: s });
  }
}

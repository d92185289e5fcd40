/**
 * What the health rules know about one device: a rolling window of hourly buckets built from the
 * telemetry, status and OTA status it sends, plus its latest battery report. Plain data in
 * (decoded messages and the service's receive time), plain snapshots out; bounded memory (at
 * most KEEP_HOURS buckets, RSSI_PER_HOUR samples each) so 10,000 devices fit comfortably.
 * Times are the service's clock (receive time), never the device's: a device whose wall clock
 * is not synced still lands in the right hour.
 */
import type { TelemetryBatch } from "../../device/core/telemetry/record";
import { HOUR } from "./config";
import type { SavedIntervals } from "./interval-store";

/** Buckets kept per device: the longest rule window plus the hour in progress. */
export const KEEP_HOURS = 49;
/** RSSI samples kept per hour (a device sampling every minute keeps every other one...). */
const RSSI_PER_HOUR = 32;
/** Reset reasons that mean the firmware or the power failed (not a planned restart). */
export const CRASH_RESETS = new Set(["watchdog", "panic", "brownout"]);
/** Remembered for remote diagnosis. */
const RECENT_RESETS = 20;
const RECENT_OTA = 20;
/** A receive gap longer than this many report intervals counts as one telemetry gap. */
const GAP_INTERVALS = 2.5;
const OTA_ROLLED_BACK = 105;

export interface HourBucket {
  hour: number;
  reports: number;
  rssi: number[];
  reconnects: number;
  gaps: number;
  crashResets: number;
  rollbacks: number;
  /** Latest battery % and predicted minutes to empty in this hour (the battery curve). */
  batteryPct?: number;
  timeToEmptyMin?: number;
  /** Lowest battery % in this hour (a battery swapped within the hour still shows its old low). */
  batteryMinPct?: number;
}

export interface BatteryState {
  pct: number;
  mv: number;
  status: number;
  alarm: "none" | "low" | "critical";
  dropBpPerHour?: number;
  timeToEmptyMin?: number;
  atMs: number;
}

/** Everything the rules and the device page read: plain data, safe to hand out. */
export interface DeviceSnapshot {
  id: string;
  firmware: string;
  hardware?: string;
  group?: string;
  firstSeenMs: number;
  lastSeenMs: number;
  reports: number;
  /** Learned report interval (ms), from the spacing of the device's own batch times; 0 until known. */
  intervalMs: number;
  /**
   * The reporting interval in force the latest batch announced (ms, batch key 15): when the device
   * will report next, a battery stretch included. Undefined for firmware that does not send it.
   */
  announcedIntervalMs?: number;
  /** The retained status says offline (Last Will or goodbye), since when. */
  willOfflineSinceMs?: number;
  battery?: BatteryState;
  lastRssi?: number;
  /**
   * Since when the device's own estimates (drain, time to empty) have been running: its first
   * report, its last reboot, firmware or slot change (an update restarts them too).
   */
  estimatesSinceMs: number;
  /** Since when the battery reports charging / charge complete (undefined while discharging). */
  chargingSinceMs?: number;
  /** The running image is confirmed (not a pending trial): the slot did not change since the last OTA status. */
  otaPending: boolean;
  hours: HourBucket[];
  resets: { atMs: number; reason: string }[];
  ota: { atMs: number; state: number; result: number; version?: number }[];
}

export interface WindowStats {
  coveredMs: number;
  reports: number;
  rssiSamples: number;
  rssiMedian?: number;
  reconnects: number;
  gaps: number;
  crashResets: number;
  rollbacks: number;
}

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The last `hours` hours of a snapshot, the hour in progress included. */
export function windowStats(d: DeviceSnapshot, nowMs: number, hours: number): WindowStats {
  const from = Math.floor(nowMs / HOUR) - hours + 1;
  const rssi: number[] = [];
  const w: WindowStats = { coveredMs: 0, reports: 0, rssiSamples: 0, reconnects: 0, gaps: 0, crashResets: 0, rollbacks: 0 };
  for (const b of d.hours) {
    if (b.hour < from) continue;
    w.reports += b.reports;
    w.reconnects += b.reconnects;
    w.gaps += b.gaps;
    w.crashResets += b.crashResets;
    w.rollbacks += b.rollbacks;
    for (const r of b.rssi) rssi.push(r);
  }
  w.rssiSamples = rssi.length;
  w.rssiMedian = median(rssi);
  w.coveredMs = Math.max(0, Math.min(hours * HOUR, nowMs - d.firstSeenMs));
  return w;
}

/** Predicted minutes to empty now: the device's estimate, aged by the time since it sent it. */
export function minutesToEmpty(b: BatteryState | undefined, nowMs: number): number | undefined {
  if (b?.timeToEmptyMin === undefined) return undefined;
  return Math.max(0, b.timeToEmptyMin - (nowMs - b.atMs) / 60_000);
}

/** The service's own drain estimate needs this span of hourly battery readings. */
const OBSERVED_DRAIN_SPAN_HOURS = 12;

/**
 * Minutes to empty from the battery % the service saw over the last day (least squares over the
 * hourly readings), undefined unless it spans 12 h and falls. A check on the device's own
 * estimate, which restarts at every boot and can be far off in its first hours.
 */
export function observedMinutesToEmpty(d: DeviceSnapshot, nowMs: number): number | undefined {
  const from = Math.floor(nowMs / HOUR) - 24;
  const pts = d.hours.filter((h) => h.hour > from && h.batteryPct !== undefined);
  if (pts.length < 2 || pts[pts.length - 1].hour - pts[0].hour < OBSERVED_DRAIN_SPAN_HOURS) return undefined;
  const n = pts.length;
  const mx = pts.reduce((a, p) => a + p.hour, 0) / n;
  const my = pts.reduce((a, p) => a + p.batteryPct!, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of pts) {
    sxy += (p.hour - mx) * (p.batteryPct! - my);
    sxx += (p.hour - mx) ** 2;
  }
  const slope = sxy / sxx; // % per hour
  if (!(slope < 0)) return undefined;
  const last = pts[n - 1];
  // The last bucket's % is the latest report's.
  const at = d.battery?.atMs ?? last.hour * HOUR;
  return Math.max(0, (last.batteryPct! / -slope) * 60 - (nowMs - at) / 60_000);
}

/** The sooner of the device's own prediction and the curve the service saw (minutes), if any. */
export function predictedMinutesToEmpty(d: DeviceSnapshot, nowMs: number): number | undefined {
  const own = minutesToEmpty(d.battery, nowMs);
  const seen = observedMinutesToEmpty(d, nowMs);
  return own === undefined ? seen : seen === undefined ? own : Math.min(own, seen);
}

export class DeviceWindow {
  readonly s: DeviceSnapshot;
  /** The intervals last written to the database (service/health/interval-store.ts). */
  readonly saved: SavedIntervals = { saved: false, learnedMs: 0 };
  private lastSeq = -1;
  private lastUptimeMs = -1;
  private lastReconnects = 0;
  private lastMadeAtMs = -1;
  private lastSlot = -1;

  constructor(id: string, nowMs: number) {
    this.s = { id, firmware: "", firstSeenMs: nowMs, lastSeenMs: nowMs, reports: 0, intervalMs: 0, estimatesSinceMs: nowMs, otaPending: false, hours: [], resets: [], ota: [] };
  }

  private bucket(nowMs: number): HourBucket {
    const hour = Math.floor(nowMs / HOUR);
    const hs = this.s.hours;
    const last = hs[hs.length - 1];
    if (last !== undefined && last.hour === hour) return last;
    if (last !== undefined && last.hour > hour) return last; // clock went back: keep counting in the newest
    const b: HourBucket = { hour, reports: 0, rssi: [], reconnects: 0, gaps: 0, crashResets: 0, rollbacks: 0 };
    hs.push(b);
    while (hs.length > 0 && hs[0].hour <= hour - KEEP_HOURS) hs.shift();
    return b;
  }

  telemetry(batch: TelemetryBatch, nowMs: number): void {
    const s = this.s;
    // A redelivered or replayed batch (QoS 1 DUP) changes nothing.
    if (batch.seq === this.lastSeq) return;
    const b = this.bucket(nowMs);
    const first = s.reports === 0;
    // Judged by the interval the previous batch announced (the one this batch was due after).
    const expectedMs = s.announcedIntervalMs ?? s.intervalMs;
    if (!first && expectedMs > 0 && nowMs - s.lastSeenMs > GAP_INTERVALS * expectedMs) b.gaps++;
    if (!first && batch.seq > this.lastSeq + 1) b.gaps++;
    // Learn the report interval from the device's own batch times (same boot, consecutive seq);
    // until two batches tell, the span of the first batch's samples hints at it.
    // (A restarted service keeps the interval it had stored instead.)
    if (first && s.intervalMs === 0 && batch.samples.length >= 2) {
      const span = batch.madeAtMs - batch.samples[0].tMs;
      const hint = Math.round((span * batch.samples.length) / (batch.samples.length - 1));
      if (hint > 0) s.intervalMs = hint;
    }
    const rebooted = this.lastUptimeMs >= 0 && batch.uptimeMs < this.lastUptimeMs;
    if (!first && !rebooted && batch.seq === this.lastSeq + 1 && this.lastMadeAtMs >= 0) {
      const dt = batch.uptimeMs - this.lastUptimeMs;
      if (dt > 0) s.intervalMs = s.intervalMs === 0 ? dt : Math.round(s.intervalMs + (dt - s.intervalMs) / 4);
    }
    if (rebooted || first) {
      s.resets.push({ atMs: nowMs, reason: batch.resetReason });
      if (s.resets.length > RECENT_RESETS) s.resets.shift();
      if (rebooted && CRASH_RESETS.has(batch.resetReason)) b.crashResets++;
      this.lastReconnects = 0;
    }
    const rc = batch.link?.reconnects ?? 0;
    if (rc > this.lastReconnects) b.reconnects += rc - this.lastReconnects;
    this.lastReconnects = rc;
    for (const sample of batch.samples) {
      if (sample.rssiDbm === undefined) continue;
      s.lastRssi = sample.rssiDbm;
      if (b.rssi.length < RSSI_PER_HOUR) b.rssi.push(sample.rssiDbm);
      else b.rssi[(b.reports * 7 + b.rssi.length) % RSSI_PER_HOUR] = sample.rssiDbm;
    }
    if (batch.battery) {
      const x = batch.battery;
      // The device dropped its estimate (it restarts after charging, a rise or a reboot): young again.
      if (s.battery?.timeToEmptyMin !== undefined && x.timeToEmptyMin === undefined) s.estimatesSinceMs = nowMs;
      s.battery = { pct: x.pct, mv: x.mv, status: x.status, alarm: x.alarm ?? "none", dropBpPerHour: x.dropBpPerHour, timeToEmptyMin: x.timeToEmptyMin, atMs: nowMs };
      b.batteryPct = x.pct;
      b.batteryMinPct = Math.min(b.batteryMinPct ?? x.pct, x.pct);
      if (x.status === 1 || x.status === 2) s.chargingSinceMs ??= nowMs;
      else s.chargingSinceMs = undefined;
      b.timeToEmptyMin = x.timeToEmptyMin;
    }
    // The device's estimates run since its boot (first report), or restart now (reboot, update).
    if (first) s.estimatesSinceMs = nowMs - batch.uptimeMs;
    else if (rebooted || batch.firmware !== s.firmware || (this.lastSlot >= 0 && batch.slot !== this.lastSlot)) s.estimatesSinceMs = nowMs;
    if (this.lastSlot >= 0 && batch.slot !== this.lastSlot) s.otaPending = true;
    this.lastSlot = batch.slot;
    s.firmware = batch.firmware;
    s.announcedIntervalMs = batch.reportIntervalSec !== undefined ? batch.reportIntervalSec * 1000 : undefined;
    b.reports++;
    s.reports++;
    s.lastSeenMs = nowMs;
    s.willOfflineSinceMs = undefined;
    this.lastSeq = batch.seq;
    this.lastUptimeMs = batch.uptimeMs;
    this.lastMadeAtMs = batch.madeAtMs;
  }

  /** The retained status topic: "online" or "offline" (Last Will / goodbye). */
  status(online: boolean, nowMs: number): void {
    if (online) this.s.willOfflineSinceMs = undefined;
    else if (this.s.willOfflineSinceMs === undefined) this.s.willOfflineSinceMs = nowMs;
  }

  otaStatus(state: number, result: number, version: number | undefined, nowMs: number): void {
    const s = this.s;
    const last = s.ota[s.ota.length - 1];
    if (last && last.state === state && last.result === result && last.version === version) return;
    s.ota.push({ atMs: nowMs, state, result, version });
    if (s.ota.length > RECENT_OTA) s.ota.shift();
    if (result === OTA_ROLLED_BACK) this.bucket(nowMs).rollbacks++;
    // Success (1) after the trial means the image was confirmed; a rollback ends the trial too.
    if (result === 1 || result === OTA_ROLLED_BACK) s.otaPending = false;
  }

  meta(m: { hardware?: string; group?: string }): void {
    if (m.hardware !== undefined) this.s.hardware = m.hardware;
    if (m.group !== undefined) this.s.group = m.group;
  }
}

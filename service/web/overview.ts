/**
 * What the dashboard shows, aggregated on the server so the page stays small with 10,000
 * devices: counts, version and battery histograms, open alerts by rule and by cohort, one page
 * of the device list, and one device's remote diagnosis. Pure functions over snapshots.
 */
import type { Alert } from "../health/alert-store";
import type { RulesConfig } from "../health/config";
import { median, predictedMinutesToEmpty, type DeviceSnapshot } from "../health/device-window";
import { isOnline } from "../health/rules";
import type { DeviceRow, Diagnosis, Overview } from "./client/shapes";

export const BATTERY_BUCKETS = ["0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90-100"];
export const MAX_PAGE = 500;

export function overview(devices: Iterable<DeviceSnapshot>, alerts: { byRule: Record<string, number>; cohorts: Alert[] }, rules: RulesConfig, nowMs: number): Overview {
  let n = 0;
  let online = 0;
  const versions = new Map<string, { devices: number; online: number }>();
  const buckets = new Array<number>(BATTERY_BUCKETS.length).fill(0);
  let unknown = 0;
  let within7d = 0;
  let within30d = 0;
  for (const d of devices) {
    n++;
    const on = isOnline(d, rules.offline, nowMs);
    if (on) online++;
    const v = versions.get(d.firmware || "unknown") ?? { devices: 0, online: 0 };
    v.devices++;
    if (on) v.online++;
    versions.set(d.firmware || "unknown", v);
    if (d.battery) buckets[Math.min(9, Math.floor(d.battery.pct / 10))]++;
    else unknown++;
    const tte = predictedMinutesToEmpty(d, nowMs);
    if (tte !== undefined && tte < 30 * 1440) {
      within30d++;
      if (tte < 7 * 1440) within7d++;
    }
  }
  const byRule = alerts.byRule;
  return {
    atMs: nowMs,
    devices: n,
    online,
    offline: n - online,
    versions: [...versions].map(([version, x]) => ({ version, ...x })).sort((a, b) => b.devices - a.devices || a.version.localeCompare(b.version)),
    battery: { buckets: BATTERY_BUCKETS, devices: buckets, unknown },
    alerts: {
      open: Object.values(byRule).reduce((a, b) => a + b, 0),
      byRule,
      byCohort: alerts.cohorts.map((a) => ({ id: a.id, subject: a.subject, summary: a.summary, openedAtMs: a.openedAtMs })),
    },
    batteryRisk: { within7d, within30d },
  };
}

export type DeviceSort = "id" | "battery" | "rssi" | "lastSeen" | "alerts";

/** One page of the device list, filtered and sorted on the server. */
export function devicePage(
  devices: Iterable<DeviceSnapshot>,
  openAlertsByDevice: Map<string, number>,
  rules: RulesConfig,
  nowMs: number,
  q: { offset: number; limit: number; sort: DeviceSort; filter?: string; onlyAlerts?: boolean },
): { total: number; offset: number; devices: DeviceRow[] } {
  const rows: DeviceRow[] = [];
  const f = q.filter?.toLowerCase();
  for (const d of devices) {
    if (f && !d.id.toLowerCase().includes(f) && !d.firmware.toLowerCase().includes(f) && !(d.group ?? "").toLowerCase().includes(f)) continue;
    const alerts = openAlertsByDevice.get(d.id) ?? 0;
    if (q.onlyAlerts && alerts === 0) continue;
    const tte = predictedMinutesToEmpty(d, nowMs);
    rows.push({
      id: d.id,
      firmware: d.firmware,
      group: d.group ?? null,
      online: isOnline(d, rules.offline, nowMs),
      lastSeenMs: d.lastSeenMs,
      batteryPct: d.battery?.pct ?? null,
      daysToEmpty: tte === undefined ? null : Math.round((tte / 1440) * 10) / 10,
      rssiDbm: d.lastRssi ?? null,
      alerts,
    });
  }
  const key: Record<DeviceSort, (r: DeviceRow) => number | string> = {
    id: (r) => r.id,
    battery: (r) => r.batteryPct ?? 1000,
    rssi: (r) => r.rssiDbm ?? 1000,
    lastSeen: (r) => r.lastSeenMs,
    alerts: (r) => -r.alerts,
  };
  const k = key[q.sort];
  rows.sort((a, b) => {
    const x = k(a);
    const y = k(b);
    return x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  const limit = Math.max(1, Math.min(MAX_PAGE, q.limit));
  return { total: rows.length, offset: q.offset, devices: rows.slice(q.offset, q.offset + limit) };
}

export function diagnosis(d: DeviceSnapshot, openAlerts: Alert[], rules: RulesConfig, nowMs: number): Diagnosis<Alert> {
  const tte = predictedMinutesToEmpty(d, nowMs);
  const b = d.battery;
  return {
    id: d.id,
    firmware: d.firmware,
    group: d.group ?? null,
    hardware: d.hardware ?? null,
    online: isOnline(d, rules.offline, nowMs),
    firstSeenMs: d.firstSeenMs,
    lastSeenMs: d.lastSeenMs,
    reports: d.reports,
    reportIntervalMs: d.intervalMs > 0 ? d.intervalMs : null,
    resets: [...d.resets].reverse(),
    hourly: {
      hourMs: d.hours.map((h) => h.hour * 3_600_000),
      rssiMedian: d.hours.map((h) => median(h.rssi) ?? null),
      reconnects: d.hours.map((h) => h.reconnects),
      gaps: d.hours.map((h) => h.gaps),
      batteryPct: d.hours.map((h) => h.batteryPct ?? null),
    },
    battery: b
      ? {
          pct: b.pct,
          mv: b.mv,
          status: b.status,
          alarm: b.alarm,
          dropPctPerHour: b.dropBpPerHour === undefined ? null : b.dropBpPerHour / 100,
          minutesToEmpty: tte === undefined ? null : Math.round(tte),
          predictedEmptyMs: tte === undefined ? null : Math.round(nowMs + tte * 60_000),
        }
      : null,
    ota: [...d.ota].reverse(),
    openAlerts,
  };
}

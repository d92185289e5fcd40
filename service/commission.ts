/**
 * Installer confirmation (commissioning): a device passes only when the service itself sees it
 * online, with several telemetry reports, a normal battery, RSSI above the threshold and its
 * firmware confirmed. Every failed check comes with a reason an installer on site can act on.
 * `check` is pure; `Commissioning` waits for a pass (re-checking on each report from the device)
 * and records the final result against the device in SQLite.
 */
import type Database from "better-sqlite3";
import type { RulesConfig } from "./health/config";
import { median, type DeviceSnapshot } from "./health/device-window";
import type { HealthEngine } from "./health/engine";
import { isOnline } from "./health/rules";

const BATTERY_STATUS_NAMES = ["normal", "charging", "charge complete", "damaged", "low", "not installed", "unknown"];
/** Batteries in these LwM2M states are fine for an install. */
const BATTERY_OK = new Set([0, 1, 2]);
/** RSSI judged on the samples of the last hour (at least the latest one). */
const RSSI_WINDOW_MS = 3_600_000;

export interface CommissionResult {
  deviceId: string;
  ok: boolean;
  atMs: number;
  reasons: string[];
  figures: { online: boolean; reports: number; batteryPct: number | null; batteryStatus: string | null; rssiDbm: number | null; firmware: string | null; firmwareConfirmed: boolean };
}

/** The minus sign an installer reads on a display: "RSSI −91 dBm". */
function dbm(x: number): string {
  return `${x < 0 ? "\u2212" : ""}${Math.abs(Math.round(x))} dBm`;
}

export function check(deviceId: string, d: DeviceSnapshot | undefined, rules: RulesConfig, nowMs: number): CommissionResult {
  const c = rules.commissioning;
  if (d === undefined || d.reports === 0) {
    return {
      deviceId,
      ok: false,
      atMs: nowMs,
      reasons: [`no telemetry from ${deviceId} yet: check that it is powered, its Wi-Fi credentials and its device id`],
      figures: { online: false, reports: 0, batteryPct: null, batteryStatus: null, rssiDbm: null, firmware: null, firmwareConfirmed: false },
    };
  }
  const reasons: string[] = [];
  const online = isOnline(d, rules.offline, nowMs);
  if (!online) reasons.push(`offline: last report ${Math.round((nowMs - d.lastSeenMs) / 60_000)} min ago: check power and the Wi-Fi signal where it is fitted`);
  if (d.reports < c.minReports) {
    const everyMs = d.announcedIntervalMs ?? d.intervalMs;
    const every = everyMs > 0 ? ` (every ${Math.round(everyMs / 1000)} s)` : "";
    reasons.push(`${d.reports} of ${c.minReports} telemetry reports so far: wait for the next${every}`);
  }
  const b = d.battery;
  if (b === undefined) reasons.push("no battery report yet: wait for the next report");
  else if (!BATTERY_OK.has(b.status)) reasons.push(`battery ${BATTERY_STATUS_NAMES[b.status] ?? "unknown"} (${b.pct} %): fit a new battery`);
  else if (b.status === 0 && (b.pct < c.minBatteryPct || b.alarm !== "none")) reasons.push(`battery ${b.pct} %: fit a fresh battery (at least ${c.minBatteryPct} %)`);
  const recent: number[] = [];
  for (const h of d.hours) if ((h.hour + 1) * 3_600_000 > nowMs - RSSI_WINDOW_MS) recent.push(...h.rssi);
  const rssi = median(recent) ?? d.lastRssi;
  if (rssi === undefined) reasons.push("no RSSI reported yet: wait for the next report");
  else if (rssi < c.minRssiDbm) reasons.push(`RSSI ${dbm(rssi)}: move the device or fit a repeater (needs ${dbm(c.minRssiDbm)} or better)`);
  if (d.otaPending) reasons.push(`firmware ${d.firmware} is on trial, not confirmed yet: wait for the update to finish`);
  return {
    deviceId,
    ok: reasons.length === 0,
    atMs: nowMs,
    reasons,
    figures: {
      online,
      reports: d.reports,
      batteryPct: b?.pct ?? null,
      batteryStatus: b ? (BATTERY_STATUS_NAMES[b.status] ?? "unknown") : null,
      rssiDbm: rssi === undefined ? null : Math.round(rssi),
      firmware: d.firmware || null,
      firmwareConfirmed: !d.otaPending,
    },
  };
}

export class Commissioning {
  constructor(
    private readonly db: Database.Database,
    private readonly engine: HealthEngine,
    private readonly now: () => number,
    private readonly timers: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void } = globalThis as never,
  ) {}

  /**
   * Checks the device now and, until it passes or `waitMs` runs out, again on each report it
   * sends (and at the deadline); records and returns the final result.
   */
  run(deviceId: string, waitMs: number): Promise<CommissionResult> {
    const deadline = this.now() + waitMs;
    return new Promise((resolve) => {
      let timer: unknown;
      let off = () => {};
      const finish = (r: CommissionResult) => {
        off();
        if (timer !== undefined) this.timers.clearTimeout(timer);
        this.record(r);
        resolve(r);
      };
      const attempt = (final: boolean) => {
        const r = check(deviceId, this.engine.snapshot(deviceId), this.engine.rules, this.now());
        if (r.ok || final || this.now() >= deadline) finish(r);
      };
      const first = check(deviceId, this.engine.snapshot(deviceId), this.engine.rules, this.now());
      if (first.ok || waitMs <= 0) return finish(first);
      off = this.engine.onDevice((id) => id === deviceId && attempt(false));
      timer = this.timers.setTimeout(() => attempt(true), waitMs);
    });
  }

  record(r: CommissionResult): void {
    this.db.prepare(`INSERT INTO commissioning (device_id, at, ok, reasons, figures) VALUES (?, ?, ?, ?, ?)`).run(r.deviceId, r.atMs, r.ok ? 1 : 0, JSON.stringify(r.reasons), JSON.stringify(r.figures));
  }

  history(deviceId: string, limit = 10): CommissionResult[] {
    const rows = this.db.prepare(`SELECT * FROM commissioning WHERE device_id = ? ORDER BY id DESC LIMIT ?`).all(deviceId, limit) as { device_id: string; at: number; ok: number; reasons: string; figures: string }[];
    return rows.map((r) => ({ deviceId: r.device_id, atMs: r.at, ok: r.ok === 1, reasons: JSON.parse(r.reasons), figures: JSON.parse(r.figures) }));
  }
}

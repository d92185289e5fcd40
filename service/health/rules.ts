/**
 * The per-device health rules as pure functions: (snapshot, rule, was the alert already open,
 * now) → a verdict. `undefined` means "cannot tell yet" (too little data) and changes nothing;
 * the open/clear thresholds differ (hysteresis) so a value hovering at a threshold raises one
 * alert per episode, not one per evaluation.
 */
import { DAY, HOUR, type LowBatteryRule, type OfflineRule, type PoorConnectivityRule } from "./config";
import { observedMinutesToEmpty, predictedMinutesToEmpty, windowStats, type DeviceSnapshot } from "./device-window";

export type RuleName = "lowBattery" | "poorConnectivity" | "offline" | "cohort";

/** What an open alert asks a human to do. */
export const RULE_ACTION: Record<RuleName, string> = {
  lowBattery: "replace battery",
  poorConnectivity: "dispatch repeater",
  offline: "check device",
  cohort: "investigate cohort",
};

export type Verdict = { active: false } | { active: true; summary: string; detail: Record<string, unknown>; dueByMs?: number };

const INACTIVE: Verdict = { active: false };
const BATTERY_CHARGING = 1;
const BATTERY_CHARGE_COMPLETE = 2;
const BATTERY_LOW = 4;
/** A battery this full is a new one... */
const FRESH_BATTERY_PCT = 90;
/** ...when it also rose this much above the lowest reading in the window (a battery reading 95 % all along is not new). */
const FRESH_BATTERY_RISE_PCT = 10;
/** A device's drain estimate this soon after a boot or update is too young to close an alert on. */
const YOUNG_ESTIMATE_MS = 6 * HOUR;
/** Poor connectivity is judged only once the window holds this much of the device's life. */
const MIN_COVERAGE_MS = 6 * HOUR;

function days(min: number): string {
  return (min / 1440).toFixed(1);
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A new battery: full, and fuller than the device's battery was within the window. */
function freshBattery(d: DeviceSnapshot, pct: number): boolean {
  if (pct < FRESH_BATTERY_PCT) return false;
  let lowest = pct;
  for (const h of d.hours) if (h.batteryMinPct !== undefined && h.batteryMinPct < lowest) lowest = h.batteryMinPct;
  return pct - lowest >= FRESH_BATTERY_RISE_PCT;
}

export function lowBattery(d: DeviceSnapshot, rule: LowBatteryRule, wasActive: boolean, nowMs: number): Verdict | undefined {
  const b = d.battery;
  if (b === undefined) return undefined;
  const fresh = freshBattery(d, b.pct);
  if (b.status === BATTERY_CHARGING || b.status === BATTERY_CHARGE_COMPLETE) {
    // Charging for an hour, or a full new battery, ends the episode; a blip after a reboot does not.
    if (!wasActive || fresh || nowMs - (d.chargingSinceMs ?? nowMs) >= HOUR) return INACTIVE;
    return undefined;
  }
  // The sooner of the device's prediction and the curve the service saw itself.
  const seen = observedMinutesToEmpty(d, nowMs);
  const tte = predictedMinutesToEmpty(d, nowMs);
  const statusLow = rule.onStatusLow && (b.status === BATTERY_LOW || b.alarm !== "none");
  const limitMin = (wasActive ? rule.clearDaysToEmpty : rule.daysToEmpty) * 1440;
  const soon = tte !== undefined && tte < limitMin;
  if (!soon && !statusLow) {
    // Open alerts stay open until the prediction is comfortably back, the battery charges, or a
    // fresh battery reports (a reboot restarts the device's drain estimate: no prediction for an hour).
    if (wasActive && tte === undefined && !fresh) return undefined;
    // Nor on a prediction the device made within hours of a reboot (it restarts its estimate).
    if (wasActive && seen === undefined && nowMs - d.estimatesSinceMs < YOUNG_ESTIMATE_MS && !fresh) return undefined;
    return INACTIVE;
  }
  // Due date: the prediction; else from the drain rate; else today for a critical alarm.
  let dueByMs: number | undefined;
  if (tte !== undefined) dueByMs = nowMs + tte * 60_000;
  else if (b.dropBpPerHour) dueByMs = nowMs + (b.pct / (b.dropBpPerHour / 100)) * HOUR;
  else if (b.alarm === "critical") dueByMs = nowMs;
  const why = soon ? `battery empty in ${days(tte!)} days` : `battery ${b.alarm !== "none" ? b.alarm : "low"} at ${b.pct} %`;
  return {
    active: true,
    summary: `${why}: replace battery${dueByMs !== undefined ? ` by ${isoDay(dueByMs)}` : " as soon as possible"}`,
    detail: { pct: b.pct, mv: b.mv, status: b.status, alarm: b.alarm, minutesToEmpty: tte === undefined ? null : Math.round(tte) },
    dueByMs,
  };
}

export function poorConnectivity(d: DeviceSnapshot, rule: PoorConnectivityRule, wasActive: boolean, nowMs: number): Verdict | undefined {
  const w = windowStats(d, nowMs, rule.windowHours);
  if (w.rssiSamples < rule.minSamples || w.coveredMs < Math.min(MIN_COVERAGE_MS, rule.windowHours * HOUR)) return undefined;
  const perDay = DAY / w.coveredMs;
  const reconnectsPerDay = w.reconnects * perDay;
  const gapsPerDay = w.gaps * perDay;
  const median = w.rssiMedian!;
  // Once open, hold until the median recovers or both rates fall to half their thresholds.
  const weak = wasActive ? median <= rule.clearMedianRssiAboveDbm : median < rule.medianRssiBelowDbm;
  const k = wasActive ? 0.5 : 1;
  const unstable = reconnectsPerDay > rule.reconnectsPerDay * k || gapsPerDay > rule.gapsPerDay * k;
  if (!(weak && unstable)) return INACTIVE;
  return {
    active: true,
    summary: `median RSSI ${Math.round(median)} dBm, ${reconnectsPerDay.toFixed(1)} reconnects/day, ${gapsPerDay.toFixed(1)} gaps/day: dispatch repeater`,
    detail: { medianRssiDbm: median, reconnectsPerDay, gapsPerDay, samples: w.rssiSamples, windowHours: rule.windowHours },
  };
}

/**
 * The report interval to judge a device by: the one its latest batch announced (a battery stretch
 * is known before the longer silence starts), else the one learned from its batch spacing (older
 * firmware), else the assumed one until it is known.
 */
export function reportInterval(d: DeviceSnapshot, rule: OfflineRule): number {
  if (d.announcedIntervalMs !== undefined) return d.announcedIntervalMs;
  return d.intervalMs > 0 ? d.intervalMs : rule.assumedIntervalMs;
}

/** Silence longer than this is offline. */
export function silenceLimitMs(d: DeviceSnapshot, rule: OfflineRule): number {
  return Math.max(rule.minSilenceMs, rule.missedIntervals * reportInterval(d, rule));
}

/** Online as the offline rule sees it: heard from recently and no standing last will. */
export function isOnline(d: DeviceSnapshot, rule: OfflineRule, nowMs: number): boolean {
  return d.reports > 0 && d.willOfflineSinceMs === undefined && nowMs - d.lastSeenMs <= silenceLimitMs(d, rule);
}

export function offline(d: DeviceSnapshot, rule: OfflineRule, _wasActive: boolean, nowMs: number): Verdict {
  const limit = silenceLimitMs(d, rule);
  const silence = nowMs - d.lastSeenMs;
  const will = d.willOfflineSinceMs !== undefined && nowMs - d.willOfflineSinceMs >= rule.minSilenceMs;
  if (silence <= limit && !will) return INACTIVE;
  const mins = Math.round(silence / 60_000);
  return {
    active: true,
    summary: will ? `offline (last will) for ${Math.round((nowMs - d.willOfflineSinceMs!) / 60_000)} min` : `no telemetry for ${mins} min (${(silence / reportInterval(d, rule)).toFixed(1)} report intervals)`,
    detail: { lastSeenMs: d.lastSeenMs, silenceMs: silence, intervalMs: reportInterval(d, rule), will },
  };
}

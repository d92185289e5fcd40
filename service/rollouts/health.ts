/**
 * Release health for rule (b): the devices that updated (new version) against the targeted
 * devices still on their old version, from the per-firmware hourly buckets that ingest keeps
 * (fw_hourly). Four metrics: crash/watchdog resets per device-day, reconnects per device-day,
 * telemetry gaps per device-day (batches missing by sequence number within a boot) and battery
 * drain in %/h (each device's mean reported discharge rate, only while on battery in normal mode).
 *
 * Like with like: the devices still on the old version are not a random sample (the deferred
 * ones have low batteries, the offline ones report nothing, the healthy ones updated first), so
 * the devices are split into strata by hardware label, group label and battery band, and only
 * strata with devices of both cohorts are compared (stratified tests, stats.ts); the old cohort is
 * measured over the same window as the new one (from the first hour a new device has data).
 */
import { versionNumber } from "../../device/core/ota/version";
import type { Db } from "../db/open";
import type { DeviceState, HealthVerdict } from "./machine";
import type { HealthSpec } from "./spec";
import { stratifiedMeanWorse, stratifiedPoissonWorse } from "./stats";

const DAY_MS = 86_400_000;
/** A device counts in a cohort once it has this much observed time on the cohort's version. */
export const MIN_DEVICE_EXPOSURE_MS = 3_600_000;

interface Acc {
  exposureMs: number;
  crashes: number;
  reconnects: number;
  gaps: number;
  dropSum: number;
  dropN: number;
}

export interface CohortFigures {
  devices: number;
  deviceDays: number;
  crashesPerDeviceDay: number;
  reconnectsPerDeviceDay: number;
  gapsPerDeviceDay: number;
  drainPctPerHour: number | null;
  drainDevices: number;
}

function fwNum(text: string): number | null {
  try {
    return versionNumber(text);
  } catch {
    return null;
  }
}

/** Battery bands (%, lower bounds) for the strata: a low battery behaves differently (and its readings are coarser). */
export const BATTERY_BANDS = [0, 30, 60] as const;

function band(pct: number | null): string {
  if (pct === null) return "?";
  let b = 0;
  for (const lower of BATTERY_BANDS) if (pct >= lower) b = lower;
  return `${b}%`;
}

/** The stratum a device falls in: hardware and group labels, and its battery band now. */
export function stratumOf(row: { hardware: string | null; group_name: string | null; battery_pct: number | null }): string {
  return `hardware=${row.hardware ?? "-"} group=${row.group_name ?? "-"} battery>=${band(row.battery_pct)}`;
}

interface Cohorts {
  newCohort: Map<string, Acc>;
  oldCohort: Map<string, Acc>;
  stratum: Map<string, string>;
}

/** Sums each device's buckets on the version of interest (new for updated devices, their old one for the rest). */
export function cohorts(db: Db, devices: Iterable<DeviceState>, newVersion: number, sinceMs: number): Cohorts {
  const newIds = new Map<string, number>();
  const oldIds = new Map<string, number>();
  for (const d of devices) {
    if (d.state === "succeeded") newIds.set(d.deviceId, newVersion);
    else if (d.fromVersion !== null && (d.state === "queued" || d.state === "deferred" || d.state === "offered" || d.state === "downloading")) oldIds.set(d.deviceId, d.fromVersion);
  }
  const rows = db
    .prepare("SELECT device_id, firmware, hour, exposure_ms, crash_resets, reconnects, gaps, drop_sum, drop_n FROM fw_hourly WHERE hour >= ?")
    .all(Math.floor(sinceMs / 3_600_000)) as { device_id: string; firmware: string; hour: number; exposure_ms: number; crash_resets: number; reconnects: number; gaps: number; drop_sum: number; drop_n: number }[];
  const versionOf = new Map<string, number | null>();
  const version = (fw: string) => {
    let v = versionOf.get(fw);
    if (v === undefined) versionOf.set(fw, (v = fwNum(fw)));
    return v;
  };
  // The same window for both: the old cohort from the first hour the new version has data.
  let firstNewHour = Infinity;
  for (const r of rows) if (r.hour < firstNewHour && r.exposure_ms > 0 && newIds.get(r.device_id) === version(r.firmware)) firstNewHour = r.hour;
  const newCohort = new Map<string, Acc>();
  const oldCohort = new Map<string, Acc>();
  for (const r of rows) {
    const v = version(r.firmware);
    if (v === null) continue;
    const target = newIds.get(r.device_id) === v ? newCohort : oldIds.get(r.device_id) === v && r.hour >= firstNewHour ? oldCohort : undefined;
    if (!target) continue;
    const a = target.get(r.device_id) ?? { exposureMs: 0, crashes: 0, reconnects: 0, gaps: 0, dropSum: 0, dropN: 0 };
    a.exposureMs += r.exposure_ms;
    a.crashes += r.crash_resets;
    a.reconnects += r.reconnects;
    a.gaps += r.gaps;
    a.dropSum += r.drop_sum;
    a.dropN += r.drop_n;
    target.set(r.device_id, a);
  }
  const stratum = new Map<string, string>();
  const labels = db.prepare("SELECT hardware, group_name, battery_pct FROM devices WHERE id = ?");
  for (const id of [...newCohort.keys(), ...oldCohort.keys()]) {
    const row = labels.get(id) as { hardware: string | null; group_name: string | null; battery_pct: number | null } | undefined;
    stratum.set(id, stratumOf(row ?? { hardware: null, group_name: null, battery_pct: null }));
  }
  return { newCohort, oldCohort, stratum };
}

function figures(accs: Acc[]): CohortFigures & { sums: Acc; drains: number[] } {
  const counted = accs.filter((a) => a.exposureMs >= MIN_DEVICE_EXPOSURE_MS);
  const sums: Acc = { exposureMs: 0, crashes: 0, reconnects: 0, gaps: 0, dropSum: 0, dropN: 0 };
  for (const a of counted) {
    sums.exposureMs += a.exposureMs;
    sums.crashes += a.crashes;
    sums.reconnects += a.reconnects;
    sums.gaps += a.gaps;
  }
  const days = sums.exposureMs / DAY_MS;
  const drains = counted.filter((a) => a.dropN > 0).map((a) => a.dropSum / a.dropN / 100);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    devices: counted.length,
    deviceDays: round(days),
    crashesPerDeviceDay: days > 0 ? round(sums.crashes / days) : 0,
    reconnectsPerDeviceDay: days > 0 ? round(sums.reconnects / days) : 0,
    gapsPerDeviceDay: days > 0 ? round(sums.gaps / days) : 0,
    drainPctPerHour: drains.length > 0 ? round(drains.reduce((x, y) => x + y, 0) / drains.length) : null,
    drainDevices: drains.length,
    sums,
    drains,
  };
}

/** Devices with enough time on their version, grouped by stratum. */
function byStratum(cohort: Map<string, Acc>, stratum: Map<string, string>): Map<string, Acc[]> {
  const m = new Map<string, Acc[]>();
  for (const [id, a] of cohort) {
    if (a.exposureMs < MIN_DEVICE_EXPOSURE_MS) continue;
    const key = stratum.get(id)!;
    const list = m.get(key);
    if (list) list.push(a);
    else m.set(key, [a]);
  }
  return m;
}

const drainsOf = (accs: Acc[]) => accs.filter((a) => a.dropN > 0).map((a) => a.dropSum / a.dropN / 100);

/** The comparison; `worse` names the first metric whose test rejects "not worse" at alpha. */
export function compareHealth(db: Db, devices: Iterable<DeviceState>, newVersion: number, sinceMs: number, h: HealthSpec): HealthVerdict {
  const { newCohort, oldCohort, stratum } = cohorts(db, devices, newVersion, sinceMs);
  const newBy = byStratum(newCohort, stratum);
  const oldBy = byStratum(oldCohort, stratum);
  // Only strata with devices of both cohorts are compared: the rest have no like to compare with.
  const matched = [...newBy.keys()].filter((k) => oldBy.has(k)).sort();
  const n = figures(matched.flatMap((k) => newBy.get(k)!));
  const o = figures(matched.flatMap((k) => oldBy.get(k)!));
  const unmatched = {
    newDevices: [...newBy.entries()].filter(([k]) => !oldBy.has(k)).reduce((x, [, v]) => x + v.length, 0),
    oldDevices: [...oldBy.entries()].filter(([k]) => !newBy.has(k)).reduce((x, [, v]) => x + v.length, 0),
  };
  const margin = h.marginPct / 100;
  const tests: Record<string, { p: number; enough: boolean }> = {};
  const enoughDevices = n.devices >= h.minDevices && o.devices >= h.minDevices;
  const sum = (accs: Acc[], f: (a: Acc) => number) => accs.reduce((x, a) => x + f(a), 0);
  const rate = (name: string, count: (a: Acc) => number) => {
    const strata = matched.map((k) => {
      const a = newBy.get(k)!, b = oldBy.get(k)!;
      return { x1: sum(a, count), e1: sum(a, (x) => x.exposureMs), x0: sum(b, count), e0: sum(b, (x) => x.exposureMs) };
    });
    tests[name] = { p: stratifiedPoissonWorse(strata, margin), enough: enoughDevices };
  };
  rate("crashes", (a) => a.crashes);
  rate("reconnects", (a) => a.reconnects);
  rate("gaps", (a) => a.gaps);
  const drainStrata = matched.map((k) => ({ a: drainsOf(newBy.get(k)!), b: drainsOf(oldBy.get(k)!) })).filter((s) => s.a.length >= 2 && s.b.length >= 2);
  const enoughDrain = drainStrata.reduce((x, s) => x + s.a.length, 0) >= h.minDevices && drainStrata.reduce((x, s) => x + s.b.length, 0) >= h.minDevices;
  tests.battery = enoughDrain ? { p: stratifiedMeanWorse(drainStrata, margin).p, enough: true } : { p: 1, enough: false };
  let worse: string | null = null;
  for (const [name, t] of Object.entries(tests)) if (t.enough && t.p < h.alpha && worse === null) worse = name;
  const strip = ({ sums: _s, drains: _d, ...rest }: ReturnType<typeof figures>) => rest;
  return {
    worse,
    detail: {
      newVersion: strip(n),
      oldVersion: strip(o),
      strata: matched.length,
      unmatched,
      marginPct: h.marginPct,
      alpha: h.alpha,
      minDevices: h.minDevices,
      pValues: Object.fromEntries(Object.entries(tests).map(([k, t]) => [k, t.enough ? Number(t.p.toPrecision(3)) : null])),
    },
  };
}

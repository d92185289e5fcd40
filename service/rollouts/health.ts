/**
 * Release health for rule (b): the devices that updated (new version) against the targeted
 * devices still on their old version, over the time since the rollout started, from the
 * per-firmware hourly buckets that ingest keeps (fw_hourly). Four metrics: crash/watchdog resets
 * per device-day, reconnects per device-day, telemetry gaps per device-day (batches missing by
 * sequence number) and battery drain in %/h (each device's mean reported discharge rate).
 */
import { versionNumber } from "../../device/core/ota/version";
import type { Db } from "../db/open";
import type { DeviceState, HealthVerdict } from "./machine";
import type { HealthSpec } from "./spec";
import { meanWorse, poissonRateWorse } from "./stats";

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

/** Sums each device's buckets on the version of interest (new for updated devices, their old one for the rest). */
export function cohorts(db: Db, devices: Iterable<DeviceState>, newVersion: number, sinceMs: number) {
  const newIds = new Map<string, number>();
  const oldIds = new Map<string, number>();
  for (const d of devices) {
    if (d.state === "succeeded") newIds.set(d.deviceId, newVersion);
    else if (d.fromVersion !== null && (d.state === "queued" || d.state === "deferred" || d.state === "offered" || d.state === "downloading")) oldIds.set(d.deviceId, d.fromVersion);
  }
  const rows = db
    .prepare("SELECT device_id, firmware, exposure_ms, crash_resets, reconnects, gaps, drop_sum, drop_n FROM fw_hourly WHERE hour >= ?")
    .all(Math.floor(sinceMs / 3_600_000)) as { device_id: string; firmware: string; exposure_ms: number; crash_resets: number; reconnects: number; gaps: number; drop_sum: number; drop_n: number }[];
  const versionOf = new Map<string, number | null>();
  const accNew = new Map<string, Acc>();
  const accOld = new Map<string, Acc>();
  for (const r of rows) {
    let v = versionOf.get(r.firmware);
    if (v === undefined) versionOf.set(r.firmware, (v = fwNum(r.firmware)));
    const target = newIds.get(r.device_id) === v ? accNew : oldIds.get(r.device_id) === v ? accOld : undefined;
    if (!target || v === null) continue;
    const a = target.get(r.device_id) ?? { exposureMs: 0, crashes: 0, reconnects: 0, gaps: 0, dropSum: 0, dropN: 0 };
    a.exposureMs += r.exposure_ms;
    a.crashes += r.crash_resets;
    a.reconnects += r.reconnects;
    a.gaps += r.gaps;
    a.dropSum += r.drop_sum;
    a.dropN += r.drop_n;
    target.set(r.device_id, a);
  }
  return { newCohort: [...accNew.values()], oldCohort: [...accOld.values()] };
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

/** The comparison; `worse` names the first metric whose test rejects "not worse" at alpha. */
export function compareHealth(db: Db, devices: Iterable<DeviceState>, newVersion: number, sinceMs: number, h: HealthSpec): HealthVerdict {
  const { newCohort, oldCohort } = cohorts(db, devices, newVersion, sinceMs);
  const n = figures(newCohort);
  const o = figures(oldCohort);
  const margin = h.marginPct / 100;
  const tests: Record<string, { p: number; enough: boolean }> = {};
  const enoughDevices = n.devices >= h.minDevices && o.devices >= h.minDevices;
  const rate = (name: string, x1: number, x0: number) => {
    tests[name] = { p: poissonRateWorse(x1, n.sums.exposureMs, x0, o.sums.exposureMs, margin), enough: enoughDevices };
  };
  rate("crashes", n.sums.crashes, o.sums.crashes);
  rate("reconnects", n.sums.reconnects, o.sums.reconnects);
  rate("gaps", n.sums.gaps, o.sums.gaps);
  const enoughDrain = n.drains.length >= h.minDevices && o.drains.length >= h.minDevices;
  tests.battery = enoughDrain ? { p: meanWorse(n.drains, o.drains, margin).p, enough: true } : { p: 1, enough: false };
  let worse: string | null = null;
  for (const [name, t] of Object.entries(tests)) if (t.enough && t.p < h.alpha && worse === null) worse = name;
  const strip = ({ sums: _s, drains: _d, ...rest }: ReturnType<typeof figures>) => rest;
  return {
    worse,
    detail: {
      newVersion: strip(n),
      oldVersion: strip(o),
      marginPct: h.marginPct,
      alpha: h.alpha,
      minDevices: h.minDevices,
      pValues: Object.fromEntries(Object.entries(tests).map(([k, t]) => [k, t.enough ? Number(t.p.toPrecision(3)) : null])),
    },
  };
}

/**
 * Systemic failure modes: the fleet split into cohorts by firmware version, hardware revision and
 * group, each cohort compared with the rest of the fleet on crash/watchdog/brown-out resets per
 * device-day, battery drain (median %/h of the devices' own measured rates: a median, so a few
 * small batteries elsewhere in the fleet do not hide a firmware's drain), rollbacks per device and the
 * share of devices offline. An outlier cohort with enough devices behind it gives ONE verdict
 * (subject "firmware=1.3.0"), never one per device. Pure.
 */
import { DAY, type CohortDimension, type CohortMetric, type CohortRule } from "./config";
import { median, windowStats, type DeviceSnapshot } from "./device-window";
import type { Verdict } from "./rules";

interface Totals {
  devices: number;
  deviceDays: number;
  crashResets: number;
  rollbacks: number;
  offline: number;
  /** Drain rates (0.01 %/h) of the devices that report one. */
  drains: number[];
}

export interface CohortFigures {
  devices: number;
  resetsPerDeviceDay: number;
  drainPctPerHour: number | undefined;
  rollbacksPerDevice: number;
  offlineRate: number;
}

/** A device's drain counts once its estimate has run this long: it restarts at every boot and update, coarse at first. */
const MIN_DRAIN_AGE_MS = 6 * 3_600_000;

const empty = (): Totals => ({ devices: 0, deviceDays: 0, crashResets: 0, rollbacks: 0, offline: 0, drains: [] });

function add(t: Totals, x: Totals, sign: 1 | -1 = 1): void {
  t.devices += sign * x.devices;
  t.deviceDays += sign * x.deviceDays;
  t.crashResets += sign * x.crashResets;
  t.rollbacks += sign * x.rollbacks;
  t.offline += sign * x.offline;
}

function figures(t: Totals, drains: number[], minDrainDevices: number): CohortFigures {
  const m = drains.length >= minDrainDevices ? median(drains) : undefined;
  return {
    devices: t.devices,
    resetsPerDeviceDay: t.deviceDays > 0 ? t.crashResets / t.deviceDays : 0,
    drainPctPerHour: m === undefined ? undefined : m / 100,
    rollbacksPerDevice: t.devices > 0 ? t.rollbacks / t.devices : 0,
    offlineRate: t.devices > 0 ? t.offline / t.devices : 0,
  };
}

export function cohortKey(dim: CohortDimension, value: string): string {
  return `${dim}=${value}`;
}

/**
 * One verdict per cohort that has enough devices (and a rest of the fleet with enough devices to
 * compare with). `open` is the set of cohort keys whose alert is open (for hysteresis);
 * `offlineIds` the devices the offline rule holds offline now.
 */
export function evaluateCohorts(
  devices: Iterable<DeviceSnapshot>,
  rule: CohortRule,
  open: ReadonlySet<string>,
  offlineIds: ReadonlySet<string>,
  nowMs: number,
): Map<string, Verdict> {
  const byCohort = new Map<string, Totals>();
  const fleet = empty();
  /** Per device: its drain (or NaN) and the cohorts it belongs to. */
  const drainOf: number[] = [];
  const memberOf: string[][] = [];
  for (const d of devices) {
    const w = windowStats(d, nowMs, rule.windowHours);
    const t: Totals = {
      devices: 1,
      deviceDays: w.coveredMs / DAY,
      crashResets: w.crashResets,
      rollbacks: w.rollbacks,
      offline: offlineIds.has(d.id) ? 1 : 0,
      drains: [],
    };
    const drain = d.battery?.dropBpPerHour;
    const fresh = drain !== undefined && nowMs - d.battery!.atMs < rule.windowHours * 3_600_000 && nowMs - d.estimatesSinceMs >= MIN_DRAIN_AGE_MS;
    drainOf.push(fresh ? drain : NaN);
    add(fleet, t);
    const keys: string[] = [];
    for (const dim of rule.dimensions) {
      const v = d[dim];
      if (v === undefined || v === "") continue;
      const key = cohortKey(dim, v);
      let c = byCohort.get(key);
      if (!c) byCohort.set(key, (c = empty()));
      add(c, t);
      if (fresh) c.drains.push(drain);
      keys.push(key);
    }
    memberOf.push(keys);
  }
  const out = new Map<string, Verdict>();
  const minDrain = Math.max(2, Math.ceil(rule.minDevices / 2));
  for (const [key, c] of byCohort) {
    const rest = empty();
    add(rest, fleet);
    add(rest, c, -1);
    if (c.devices < rule.minDevices || rest.devices < rule.minDevices) continue;
    const restDrains: number[] = [];
    for (let i = 0; i < drainOf.length; i++) if (!Number.isNaN(drainOf[i]) && !memberOf[i].includes(key)) restDrains.push(drainOf[i]);
    const a = figures(c, c.drains, minDrain);
    const b = figures(rest, restDrains, minDrain);
    const wasOpen = open.has(key);
    const worse: string[] = [];
    for (const m of Object.keys(rule.metrics) as CohortMetric[]) {
      const x = a[m];
      const y = b[m];
      if (x === undefined || y === undefined) continue;
      const { ratio, minDelta, clearRatio } = rule.metrics[m];
      const r = wasOpen ? clearRatio : ratio;
      const delta = wasOpen ? minDelta / 2 : minDelta;
      if (x > y * r && x - y > delta) worse.push(`${m} ${fmt(x)} vs ${fmt(y)}`);
    }
    if (worse.length === 0) {
      out.set(key, { active: false });
      continue;
    }
    out.set(key, {
      active: true,
      summary: `cohort ${key} (${c.devices} devices) worse than the rest of the fleet (${rest.devices}): ${worse.join(", ")}`,
      detail: { cohort: key, devices: c.devices, cohortFigures: a, restFigures: b, worse },
    });
  }
  return out;
}

function fmt(x: number): string {
  return x >= 10 ? x.toFixed(1) : x.toFixed(3);
}

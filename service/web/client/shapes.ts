/**
 * The JSON the server sends to the browser (the dashboard's API answers and the data block of
 * `tether sim --report`), declared once. Types only, and nothing from Node or the DOM: the
 * browser build (tsconfig.web.json) cannot import server modules, so the server (service/web,
 * and host-sim for the report) imports these types from here instead.
 */

/** GET /api/health/overview. */
export interface Overview {
  atMs: number;
  devices: number;
  online: number;
  offline: number;
  versions: { version: string; devices: number; online: number }[];
  battery: { buckets: string[]; devices: number[]; unknown: number };
  alerts: { open: number; byRule: Record<string, number>; byCohort: { subject: string; summary: string; openedAtMs: number; id: number }[] };
  /** Devices whose battery is predicted flat within 7 / 30 days. */
  batteryRisk: { within7d: number; within30d: number };
}

/** One row of GET /api/health/devices. */
export interface DeviceRow {
  id: string;
  firmware: string;
  group: string | null;
  online: boolean;
  lastSeenMs: number;
  batteryPct: number | null;
  daysToEmpty: number | null;
  rssiDbm: number | null;
  alerts: number;
}

/** GET /api/devices/:id/diagnosis (the route adds the commissioning history); `A` is the open alert as the reader sees it. */
export interface Diagnosis<A> {
  id: string;
  firmware: string;
  group: string | null;
  hardware: string | null;
  online: boolean;
  firstSeenMs: number;
  lastSeenMs: number;
  reports: number;
  reportIntervalMs: number | null;
  resets: { atMs: number; reason: string }[];
  /** Hourly: median RSSI, reconnects, telemetry gaps, battery % (null where nothing was reported). */
  hourly: { hourMs: number[]; rssiMedian: (number | null)[]; reconnects: number[]; gaps: number[]; batteryPct: (number | null)[] };
  battery: { pct: number; mv: number; status: number; alarm: string; dropPctPerHour: number | null; minutesToEmpty: number | null; predictedEmptyMs: number | null } | null;
  ota: { atMs: number; state: number; result: number; version?: number }[];
  openAlerts: A[];
}

/** One of a simulation's scenario rollouts as the service ran it (report.ts shows it). */
export interface RolloutOutcome {
  id?: string;
  bundle: string;
  createdAtMs: number;
  status: string;
  /** Rule that halted it, and simulated ms from creation to the halt. */
  haltRule?: string;
  /** The halt's numbers as the service recorded them (counts, or the health comparison). */
  haltDetail?: Record<string, unknown>;
  haltAfterMs?: number;
  /** The service's counts (GET /api/rollouts/:id), of which the report shows the devices per state. */
  counts?: { byState?: Record<string, number> };
  /** Devices that were offered the version (an upper bound of the devices that ever ran it). */
  offered?: number;
  /** Devices that ever booted this rollout's version (ground truth, firmware-behaviour.ts). */
  devicesRan?: number;
  error?: string;
}

/** A detector's score against the simulation's ground truth. */
export interface DetectionScore {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
}

/** What `tether sim --report` shows of the fleet service's side of a run (host-sim/fleet/health-truth.ts measures it). */
export interface ServiceRunFigures {
  replaceBattery: DetectionScore & { medianLeadDays: number | null };
  dispatchRepeater: DetectionScore;
  cohorts: { subject: string; openedAfterHours: number }[];
  alertsByRule: Record<string, number>;
  /** The scenario's rollouts as the service ran them: outcome, counts, halt rule and numbers. */
  rollouts: RolloutOutcome[];
  /** Hourly series. */
  series: { hourMs: number[]; delivered: number[]; online: number[]; reconnects: number[]; openAlerts: number[]; versions: Record<string, number[]> };
  batteryPct: number[];
  alerts: { atMs: number; event: string; rule: string; subject: string; summary: string }[];
}

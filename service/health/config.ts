/**
 * The health rules file (`tether fleet serve --rules FILE`): JSON, validated, every number with
 * a documented default (docs/fleet-service.md "Health rules"). Unknown keys are rejected with
 * their path, so a typo cannot silently switch a rule off. Each rule names the actions
 * (service/actions) that run when one of its alerts opens or resolves.
 */
import { PathChecker, type Obj } from "../path-checker";

// ---------------------------------------------------------------- defaults
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface LowBatteryRule {
  enabled: boolean;
  /** Raise when the device's predicted time to empty is below this many days... */
  daysToEmpty: number;
  /** ...and resolve only when it is back above this (hysteresis), or the battery charges. */
  clearDaysToEmpty: number;
  /** Also raise on the LwM2M battery status "low" or the device's low/critical alarm. */
  onStatusLow: boolean;
  actions: string[];
}

export interface PoorConnectivityRule {
  enabled: boolean;
  windowHours: number;
  /** Median RSSI over the window below this (dBm)... */
  medianRssiBelowDbm: number;
  /** ...and at least one of these rates above its threshold (per device-day). */
  reconnectsPerDay: number;
  gapsPerDay: number;
  /** Resolve when the median is back above this (hysteresis). */
  clearMedianRssiAboveDbm: number;
  /** Samples needed in the window before judging. */
  minSamples: number;
  actions: string[];
}

export interface OfflineRule {
  enabled: boolean;
  /** Offline after this many report intervals without telemetry... */
  missedIntervals: number;
  /** ...but never sooner than this (ms): a short report interval must not page anyone. */
  minSilenceMs: number;
  /** The report interval assumed until a device's own reports tell (ms). */
  assumedIntervalMs: number;
  actions: string[];
}

export type CohortDimension = "firmware" | "hardware" | "group";
export type CohortMetric = "resetsPerDeviceDay" | "drainPctPerHour" | "rollbacksPerDevice" | "offlineRate";

export interface CohortRule {
  enabled: boolean;
  dimensions: CohortDimension[];
  windowHours: number;
  /** Devices needed in the cohort (and in the rest of the fleet) before comparing. */
  minDevices: number;
  /** Outlier: cohort > rest × ratio and cohort − rest > minDelta. Resolves below rest × clearRatio. */
  metrics: Record<CohortMetric, { ratio: number; minDelta: number; clearRatio: number }>;
  actions: string[];
}

export type ActionConfig =
  | { type: "webhook"; url: string; headers: Record<string, string>; events: AlertEvent[] }
  | { type: "email"; smtp: string; from: string; to: string[]; events: AlertEvent[] }
  | { type: "mqtt"; topic: string; payload: unknown; qos: 0 | 1; events: AlertEvent[] }
  | { type: "csv"; file: string; events: AlertEvent[] };

export type AlertEvent = "opened" | "acknowledged" | "resolved";

export interface RulesConfig {
  lowBattery: LowBatteryRule;
  poorConnectivity: PoorConnectivityRule;
  offline: OfflineRule;
  cohort: CohortRule;
  /** Installer confirmation (commissioning) thresholds. */
  commissioning: { minReports: number; minRssiDbm: number; minBatteryPct: number };
  /** How often the rules run (ms). */
  evaluateEveryMs: number;
  actions: Record<string, ActionConfig>;
}

export const DEFAULT_RULES: RulesConfig = {
  lowBattery: { enabled: true, daysToEmpty: 7, clearDaysToEmpty: 10, onStatusLow: true, actions: [] },
  poorConnectivity: {
    enabled: true,
    windowHours: 24,
    medianRssiBelowDbm: -85,
    reconnectsPerDay: 4,
    gapsPerDay: 4,
    clearMedianRssiAboveDbm: -80,
    minSamples: 12,
    actions: [],
  },
  offline: { enabled: true, missedIntervals: 3, minSilenceMs: 5 * 60_000, assumedIntervalMs: 3_600_000, actions: [] },
  cohort: {
    enabled: true,
    dimensions: ["firmware", "hardware", "group"],
    windowHours: 24,
    minDevices: 20,
    metrics: {
      resetsPerDeviceDay: { ratio: 2, minDelta: 0.2, clearRatio: 1.5 },
      drainPctPerHour: { ratio: 1.2, minDelta: 0.01, clearRatio: 1.1 },
      rollbacksPerDevice: { ratio: 2, minDelta: 0.05, clearRatio: 1.5 },
      offlineRate: { ratio: 2, minDelta: 0.1, clearRatio: 1.5 },
    },
    actions: [],
  },
  commissioning: { minReports: 3, minRssiDbm: -80, minBatteryPct: 30 },
  evaluateEveryMs: 60_000,
  actions: {},
};

export const WINDOW_LIMIT_HOURS = 7 * 24;
export { DAY, HOUR };

// ---------------------------------------------------------------- validation
export class RulesError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid rules file:\n  ${problems.join("\n  ")}`);
    this.name = "RulesError";
  }
}

const EVENTS: readonly AlertEvent[] = ["opened", "acknowledged", "resolved"];
const DIMENSIONS: readonly CohortDimension[] = ["firmware", "hardware", "group"];
const METRICS: readonly CohortMetric[] = ["resetsPerDeviceDay", "drainPctPerHour", "rollbacksPerDevice", "offlineRate"];

function events(c: PathChecker, o: Obj, path: string, fallback: AlertEvent[]): AlertEvent[] {
  const e = c.strings(o, "events", path, fallback);
  for (const x of e) if (!EVENTS.includes(x as AlertEvent)) c.fail(`${path}.events`, `unknown event "${x}" (allowed: ${EVENTS.join(", ")})`);
  return e as AlertEvent[];
}

function action(c: PathChecker, v: unknown, path: string): ActionConfig | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return void c.fail(path, "expected an object");
  const type = (v as Obj).type;
  switch (type) {
    case "webhook": {
      const o = c.object(v, path, ["type", "url", "headers", "events"])!;
      const url = c.str(o, "url", path);
      if (url && !/^https?:\/\//.test(url)) c.fail(`${path}.url`, `expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
      const headers: Record<string, string> = {};
      const h = c.section(o.headers, `${path}.headers`, Object.keys((o.headers as Obj) ?? {}));
      for (const [k, x] of Object.entries(h)) {
        if (typeof x !== "string") c.fail(`${path}.headers.${k}`, "expected a string");
        else headers[k] = x;
      }
      return { type, url, headers, events: events(c, o, path, ["opened", "resolved"]) };
    }
    case "email": {
      const o = c.object(v, path, ["type", "smtp", "from", "to", "events"])!;
      const smtp = c.str(o, "smtp", path);
      if (smtp && !/^smtps?:\/\//.test(smtp)) c.fail(`${path}.smtp`, `expected smtp://host:port or smtps://..., got ${JSON.stringify(smtp)}`);
      const to = typeof o.to === "string" ? [o.to] : c.strings(o, "to", path, []);
      if (to.length === 0) c.fail(`${path}.to`, "expected at least one address");
      return { type, smtp, from: c.str(o, "from", path, "tether@localhost"), to, events: events(c, o, path, ["opened"]) };
    }
    case "mqtt": {
      const o = c.object(v, path, ["type", "topic", "payload", "qos", "events"])!;
      const topic = c.str(o, "topic", path);
      if (topic && /[#+]/.test(topic)) c.fail(`${path}.topic`, "a publish topic cannot hold wildcards");
      const qos = c.num(o, "qos", path, 0, 1, 1) as 0 | 1;
      return { type, topic, payload: o.payload ?? {}, qos, events: events(c, o, path, ["opened"]) };
    }
    case "csv": {
      const o = c.object(v, path, ["type", "file", "events"])!;
      return { type, file: c.str(o, "file", path), events: events(c, o, path, ["opened", "acknowledged", "resolved"]) };
    }
    default:
      c.fail(`${path}.type`, `expected "webhook", "email", "mqtt" or "csv", got ${JSON.stringify(type)}`);
      return undefined;
  }
}

/** Validates a parsed rules file over the defaults; throws RulesError listing every problem. */
export function parseRules(input: unknown): RulesConfig {
  const c = new PathChecker();
  const d = DEFAULT_RULES;
  const top = c.section(input, "rules", ["description", "lowBattery", "poorConnectivity", "offline", "cohort", "commissioning", "evaluateEvery", "actions"]);
  const lb = c.section(top.lowBattery, "lowBattery", ["enabled", "daysToEmpty", "clearDaysToEmpty", "onStatusLow", "actions"]);
  const lowBattery: LowBatteryRule = {
    enabled: c.bool(lb, "enabled", "lowBattery", d.lowBattery.enabled),
    daysToEmpty: c.num(lb, "daysToEmpty", "lowBattery", 0.1, d.lowBattery.daysToEmpty, 365),
    clearDaysToEmpty: 0,
    onStatusLow: c.bool(lb, "onStatusLow", "lowBattery", d.lowBattery.onStatusLow),
    actions: c.strings(lb, "actions", "lowBattery", []),
  };
  lowBattery.clearDaysToEmpty = c.num(lb, "clearDaysToEmpty", "lowBattery", 0.1, Math.max(d.lowBattery.clearDaysToEmpty, lowBattery.daysToEmpty * 1.4), 365);
  if (lowBattery.clearDaysToEmpty < lowBattery.daysToEmpty) c.fail("lowBattery.clearDaysToEmpty", "must not be below daysToEmpty (hysteresis)");

  const pc = c.section(top.poorConnectivity, "poorConnectivity", ["enabled", "windowHours", "medianRssiBelowDbm", "reconnectsPerDay", "gapsPerDay", "clearMedianRssiAboveDbm", "minSamples", "actions"]);
  const dp = d.poorConnectivity;
  const poorConnectivity: PoorConnectivityRule = {
    enabled: c.bool(pc, "enabled", "poorConnectivity", dp.enabled),
    windowHours: c.num(pc, "windowHours", "poorConnectivity", 1, dp.windowHours, WINDOW_LIMIT_HOURS),
    medianRssiBelowDbm: c.num(pc, "medianRssiBelowDbm", "poorConnectivity", -130, dp.medianRssiBelowDbm, 0),
    reconnectsPerDay: c.num(pc, "reconnectsPerDay", "poorConnectivity", 0, dp.reconnectsPerDay, 1e6),
    gapsPerDay: c.num(pc, "gapsPerDay", "poorConnectivity", 0, dp.gapsPerDay, 1e6),
    clearMedianRssiAboveDbm: 0,
    minSamples: c.num(pc, "minSamples", "poorConnectivity", 1, dp.minSamples, 1e6),
    actions: c.strings(pc, "actions", "poorConnectivity", []),
  };
  poorConnectivity.clearMedianRssiAboveDbm = c.num(pc, "clearMedianRssiAboveDbm", "poorConnectivity", -130, poorConnectivity.medianRssiBelowDbm + 5, 0);
  if (poorConnectivity.clearMedianRssiAboveDbm < poorConnectivity.medianRssiBelowDbm) c.fail("poorConnectivity.clearMedianRssiAboveDbm", "must not be below medianRssiBelowDbm (hysteresis)");

  const of = c.section(top.offline, "offline", ["enabled", "missedIntervals", "minSilenceMs", "assumedIntervalMs", "actions"]);
  const offline: OfflineRule = {
    enabled: c.bool(of, "enabled", "offline", d.offline.enabled),
    missedIntervals: c.num(of, "missedIntervals", "offline", 1, d.offline.missedIntervals, 1000),
    minSilenceMs: c.num(of, "minSilenceMs", "offline", 0, d.offline.minSilenceMs, 30 * DAY),
    assumedIntervalMs: c.num(of, "assumedIntervalMs", "offline", 1000, d.offline.assumedIntervalMs, 30 * DAY),
    actions: c.strings(of, "actions", "offline", []),
  };

  const co = c.section(top.cohort, "cohort", ["enabled", "dimensions", "windowHours", "minDevices", "metrics", "actions"]);
  const dimensions = c.strings(co, "dimensions", "cohort", d.cohort.dimensions) as CohortDimension[];
  for (const x of dimensions) if (!DIMENSIONS.includes(x)) c.fail("cohort.dimensions", `unknown dimension "${x}" (allowed: ${DIMENSIONS.join(", ")})`);
  const mo = c.section(co.metrics, "cohort.metrics", METRICS);
  const metrics = {} as CohortRule["metrics"];
  for (const m of METRICS) {
    const path = `cohort.metrics.${m}`;
    const x = c.section(mo[m], path, ["ratio", "minDelta", "clearRatio"]);
    const def = d.cohort.metrics[m];
    const ratio = c.num(x, "ratio", path, 1, def.ratio, 1000);
    const clearRatio = c.num(x, "clearRatio", path, 1, Math.min(def.clearRatio, ratio), 1000);
    if (clearRatio > ratio) c.fail(`${path}.clearRatio`, "must not be above ratio (hysteresis)");
    metrics[m] = { ratio, minDelta: c.num(x, "minDelta", path, 0, def.minDelta, 1e6), clearRatio };
  }
  const cohort: CohortRule = {
    enabled: c.bool(co, "enabled", "cohort", d.cohort.enabled),
    dimensions,
    windowHours: c.num(co, "windowHours", "cohort", 1, d.cohort.windowHours, WINDOW_LIMIT_HOURS),
    minDevices: c.num(co, "minDevices", "cohort", 2, d.cohort.minDevices, 1e7),
    metrics,
    actions: c.strings(co, "actions", "cohort", []),
  };

  const cm = c.section(top.commissioning, "commissioning", ["minReports", "minRssiDbm", "minBatteryPct"]);
  const commissioning = {
    minReports: c.num(cm, "minReports", "commissioning", 1, d.commissioning.minReports, 1000),
    minRssiDbm: c.num(cm, "minRssiDbm", "commissioning", -130, d.commissioning.minRssiDbm, 0),
    minBatteryPct: c.num(cm, "minBatteryPct", "commissioning", 0, d.commissioning.minBatteryPct, 100),
  };
  const evaluateEveryMs = c.num(top, "evaluateEvery", "rules", 1000, d.evaluateEveryMs, DAY);

  const actions: Record<string, ActionConfig> = {};
  const ao = c.section(top.actions, "actions", Object.keys((top.actions as Obj) ?? {}));
  for (const [name, v] of Object.entries(ao)) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) c.fail(`actions.${name}`, "action names are 1..64 letters, digits, '_' or '-'");
    const a = action(c, v, `actions.${name}`);
    if (a) actions[name] = a;
  }
  for (const [rule, names] of [
    ["lowBattery", lowBattery.actions],
    ["poorConnectivity", poorConnectivity.actions],
    ["offline", offline.actions],
    ["cohort", cohort.actions],
  ] as const) {
    for (const n of names) if (!(n in ao)) c.fail(`${rule}.actions`, `names action "${n}", which the "actions" section does not define`);
  }
  if (c.problems.length > 0) throw new RulesError(c.problems);
  return { lowBattery, poorConnectivity, offline, cohort, commissioning, evaluateEveryMs, actions };
}

/** Parses the text of a rules file (JSON). */
export function parseRulesText(text: string): RulesConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RulesError([`not JSON: ${(err as Error).message}`]);
  }
  return parseRules(json);
}

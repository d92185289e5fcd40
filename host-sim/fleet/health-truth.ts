/**
 * One simulation run with the fleet service inside it, scored against simulated truth: the
 * virtual fleet runs with the service attached to its virtual broker and clock
 * (service-run.ts), proactive support (service/health) as one of its modules and the scenario's
 * `rollouts` created at their times — the same wiring as `tether fleet serve`, so the alerts and
 * the rollout halts come from the code that runs in production. At the end each alert is scored
 * against what the simulator knows:
 * - "replace battery" is right when the device's battery really went flat in the run (lead time =
 *   flat − alert), or would within the rule's N days after the end at its simulated drain so far;
 *   wrong on any other device;
 * - "dispatch repeater" is right when the device's radio mean (radio.ts) is in a bad spot;
 * - a cohort alert is right when it names the cohort the scenario made worse, and how soon.
 * Also what `tether sim --report` plots: telemetry over time, reconnects, battery distribution,
 * versions running, and each rollout's outcome with the rule and numbers behind a halt.
 */
import { versionString } from "../../device/core/ota/version";
import { parseRules, type RulesConfig } from "../../service/health/config";
import type { AlertChange } from "../../service/health/engine";
import { ProactiveSupport } from "../../service/health/module";
import { VirtualFleet, type VirtualFleetOptions } from "./engine";
import type { FleetSummary } from "./metrics";
import { deviceRadio } from "./radio";
import { attachFleetService, rolloutOutcomes, scheduleScenarioRollouts } from "./service-run";
import type { DetectionScore, ServiceRunFigures } from "../../service/web/client/shapes";

/** A radio mean below this is a bad spot: the link drops several times a day (radio.ts table). */
export const BAD_SPOT_DBM = -85;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface Score extends DetectionScore {
  examples: { falsePositives: string[]; falseNegatives: string[] };
}

export interface TruthReport extends ServiceRunFigures {
  devices: number;
  simulatedDays: number;
  summary: FleetSummary;
  replaceBattery: Score & { medianLeadDays: number | null; leadDays: number[] };
  dispatchRepeater: Score;
}

/** The fleet (as VirtualFleetOptions) and the health rules to score. */
export interface TruthOptions extends Pick<VirtualFleetOptions, "devices" | "durationMs" | "seed" | "scenario" | "library" | "sha256"> {
  rules?: RulesConfig;
  /** How often the rules run, simulated ms. */
  evaluateEveryMs?: number;
  /** Called at the end of the run, before the service closes (benches time the rules here). */
  atEnd?: (proactive: ProactiveSupport) => void;
}

function score(alerted: Set<string>, truth: Set<string>, all: string[]): Score {
  let tp = 0;
  const fps: string[] = [];
  const fns: string[] = [];
  for (const id of all) {
    const a = alerted.has(id);
    const t = truth.has(id);
    if (a && t) tp++;
    else if (a) fps.push(id);
    else if (t) fns.push(id);
  }
  return {
    truePositives: tp,
    falsePositives: fps.length,
    falseNegatives: fns.length,
    precision: tp + fps.length === 0 ? 1 : tp / (tp + fps.length),
    recall: tp + fns.length === 0 ? 1 : tp / (tp + fns.length),
    examples: { falsePositives: fps.slice(0, 5), falseNegatives: fns.slice(0, 5) },
  };
}

function medianOf(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function runHealthTruth(o: TruthOptions): TruthReport {
  const fleet = new VirtualFleet({ devices: o.devices, durationMs: o.durationMs, seed: o.seed, scenario: o.scenario, library: o.library, sha256: o.sha256, wallNow: () => performance.now() });
  const base = o.rules ?? parseRules({});
  const rules = o.evaluateEveryMs === undefined ? base : { ...base, evaluateEveryMs: o.evaluateEveryMs };
  let proactive!: ProactiveSupport;
  const sim = attachFleetService(fleet, {
    modules: (service) => [(proactive = new ProactiveSupport(service, rules, { dashboard: false, onAlert: (c) => onAlert(c) }))],
  });
  const now = () => sim.service.clock.now();
  // The labels an operator gives the devices (PATCH /api/devices/ID): cohorts by group and hardware.
  for (const d of fleet.devices) sim.service.registry.setLabels(d.id, { group: d.group.name, ...(d.group.hardware ? { hardware: d.hardware } : {}) }, now());
  const rollouts = scheduleScenarioRollouts(fleet, sim);

  // Ground truth gathered as the run goes: when each battery went flat.
  const flatAt = new Map<string, number>();
  const firstAlert = new Map<string, number>(); // rule\0subject → first opened (ms, run time)
  const alerts: TruthReport["alerts"] = [];
  const onAlert = (c: AlertChange) => {
    const key = `${c.alert.rule}\u0000${c.alert.subject}`;
    if (c.event === "opened" && !firstAlert.has(key)) firstAlert.set(key, fleet.clock.now());
    if (alerts.length < 5000) alerts.push({ atMs: now(), event: c.event, rule: c.alert.rule, subject: c.alert.subject, summary: c.alert.summary });
  };
  const series: TruthReport["series"] = { hourMs: [], delivered: [], online: [], reconnects: [], openAlerts: [], versions: {} };
  let lastDelivered = 0;
  let lastReconnects = 0;
  // A battery is flat for its customer when the device stops for lack of charge: its agent's
  // brown-out stop (it saves and halts before the cell is empty; the cell may linger for days at
  // sleep current), or the cell dying first.
  const noteIfFlat = (d: (typeof fleet.devices)[number]) => {
    if (d.brownoutAt !== undefined) flatAt.set(d.id, d.brownoutAt);
    else if (d.state === "dead") flatAt.set(d.id, fleet.clock.now());
  };
  // Flat batteries noted at the rules' cadence (this timer runs just after the service's evaluation).
  const noteFlat = () => {
    for (const d of fleet.devices) if (!flatAt.has(d.id)) noteIfFlat(d);
    fleet.clock.setTimeout(noteFlat, rules.evaluateEveryMs);
  };
  fleet.clock.setTimeout(noteFlat, rules.evaluateEveryMs);
  const sampleHour = () => {
    series.hourMs.push(now());
    series.delivered.push(fleet.delivered - lastDelivered);
    series.reconnects.push(fleet.reconnects - lastReconnects);
    series.online.push(fleet.online);
    series.openAlerts.push(proactive.engine.store.list({ state: "unresolved", limit: 1 }).total);
    const running = new Map<string, number>();
    for (const d of fleet.devices) if (d.running) running.set(versionString(d.version), (running.get(versionString(d.version)) ?? 0) + 1);
    for (const v of running.keys()) series.versions[v] ??= new Array<number>(series.hourMs.length - 1).fill(0);
    for (const [v, xs] of Object.entries(series.versions)) xs.push(running.get(v) ?? 0);
    lastDelivered = fleet.delivered;
    lastReconnects = fleet.reconnects;
    fleet.clock.setTimeout(sampleHour, HOUR);
  };
  fleet.clock.setTimeout(sampleHour, HOUR);
  const startPermille = fleet.devices.map((d) => d.battery.chargePermille());
  const summary = fleet.run();
  rolloutOutcomes(fleet, sim, rollouts);
  o.atEnd?.(proactive);
  for (const d of fleet.devices) if (!flatAt.has(d.id)) noteIfFlat(d);

  const ids = fleet.devices.map((d) => d.id);
  const batteryAlerted = new Set<string>();
  const repeaterAlerted = new Set<string>();
  const cohorts: TruthReport["cohorts"] = [];
  for (const [key, at] of firstAlert) {
    const [rule, subject] = key.split("\u0000");
    if (rule === "lowBattery") batteryAlerted.add(subject);
    else if (rule === "poorConnectivity") repeaterAlerted.add(subject);
    else if (rule === "cohort") cohorts.push({ subject, openedAfterHours: at / HOUR });
  }
  const badSpots = new Set(fleet.devices.filter((d) => d.group.radio && deviceRadio(d.group.radio, d.seed).meanDbm < BAD_SPOT_DBM).map((d) => d.id));
  const flat = new Set(flatAt.keys());
  // Alive at the end: flat soon after, at the drain the simulation applied so far?
  const elapsed = fleet.clock.now();
  fleet.devices.forEach((d, i) => {
    if (flat.has(d.id)) return;
    const left = d.battery.chargePermille();
    const perMs = (startPermille[i] - left) / elapsed;
    if (perMs > 0 && left / perMs < rules.lowBattery.daysToEmpty * DAY) {
      flat.add(d.id);
      // Still running at the end: its lead time counts to when it would go flat at that drain.
      flatAt.set(d.id, elapsed + Math.floor(left / perMs));
    }
  });
  const leadDays: number[] = [];
  for (const id of flat) {
    const a = firstAlert.get(`lowBattery\u0000${id}`);
    if (a !== undefined) leadDays.push((flatAt.get(id)! - a) / DAY);
  }
  const alertsByRule: Record<string, number> = {};
  for (const key of firstAlert.keys()) {
    const rule = key.split("\u0000")[0];
    alertsByRule[rule] = (alertsByRule[rule] ?? 0) + 1;
  }
  const batteryPct = fleet.devices.map((d) => Math.round(d.battery.chargePermille() / 10));
  void sim.close();
  return {
    devices: o.devices,
    simulatedDays: o.durationMs / DAY,
    summary,
    replaceBattery: { ...score(batteryAlerted, flat, ids), medianLeadDays: medianOf(leadDays), leadDays },
    dispatchRepeater: score(repeaterAlerted, badSpots, ids),
    cohorts,
    alertsByRule,
    rollouts,
    series,
    batteryPct,
    alerts,
  };
}

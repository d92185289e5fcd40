/**
 * The health engine: feeds decoded device messages into per-device windows, runs the rules on a
 * schedule, and turns verdicts into alert episodes (SQLite) and queued actions (the outbox), in
 * one transaction per evaluation. Plain data in, alerts out; the clock is the caller's, so the
 * same engine runs in `tether fleet serve` and under the simulator's virtual clock.
 */
import type Database from "better-sqlite3";
import type { TelemetryBatch } from "../../device/core/telemetry/record";
import type { Outbox } from "../actions/outbox";
import { alertKey, AlertStore, type Alert } from "./alert-store";
import { evaluateCohorts } from "./cohorts";
import { HOUR, type AlertEvent, type RulesConfig } from "./config";
import { DeviceWindow, type DeviceSnapshot } from "./device-window";
import { IntervalStore, intervalsChanged, type StoredIntervals } from "./interval-store";
import { lowBattery, offline, poorConnectivity, type RuleName, type Verdict } from "./rules";

/** A due date moving by less than this is not worth a database write. */
const DUE_BY_SLACK_MS = 6 * HOUR;
const DEVICE_RULES = ["lowBattery", "poorConnectivity", "offline"] as const;

export interface AlertChange {
  event: AlertEvent;
  alert: Alert;
}

export interface HealthEngineOptions {
  db: Database.Database;
  rules: RulesConfig;
  now: () => number;
  outbox?: Outbox;
}

export class HealthEngine {
  readonly store: AlertStore;
  private readonly intervals: IntervalStore;
  private readonly windows = new Map<string, DeviceWindow>();
  /** Windows whose report intervals changed since they were last written (see inputs()). */
  private readonly unsaved = new Set<DeviceWindow>();
  private deferWrites = false;
  private readonly listeners = new Set<(c: AlertChange) => void>();
  private readonly deviceListeners = new Set<(id: string) => void>();
  rules: RulesConfig;

  constructor(private readonly o: HealthEngineOptions) {
    this.store = new AlertStore(o.db);
    this.intervals = new IntervalStore(o.db);
    this.rules = o.rules;
  }

  private window(id: string): DeviceWindow {
    let w = this.windows.get(id);
    if (!w) this.windows.set(id, (w = new DeviceWindow(id, this.o.now())));
    return w;
  }

  // ---------------------------------------------------------------- input
  telemetry(batch: TelemetryBatch): void {
    const w = this.window(batch.deviceId);
    const now = this.o.now();
    w.telemetry(batch, now);
    // Keep what the offline rule needs across a restart; written only when it changed (checked
    // per batch without building anything).
    if (intervalsChanged(w.saved, w.s.announcedIntervalMs, w.s.intervalMs)) {
      this.unsaved.add(w);
      if (!this.deferWrites) this.saveIntervals();
    }
    for (const l of this.deviceListeners) l(batch.deviceId);
  }

  /**
   * Feeds one ingest batch's inputs (`feed` calls telemetry(), status(), ...) and writes the
   * report intervals they changed in one transaction, not one commit per device
   * (bench/results/fleet-service-health.json measures both).
   */
  inputs(feed: () => void): void {
    this.deferWrites = true;
    try {
      feed();
    } finally {
      this.deferWrites = false;
    }
    this.saveIntervals();
  }

  /** Writes the changed intervals; a failed write keeps them unsaved, so the next batch tries again. */
  private saveIntervals(): void {
    if (this.unsaved.size === 0) return;
    const now = this.o.now();
    this.o.db.transaction(() => {
      for (const w of this.unsaved) this.intervals.put(w.s.id, { announcedMs: w.s.announcedIntervalMs, learnedMs: w.s.intervalMs }, now);
    })();
    for (const w of this.unsaved) Object.assign(w.saved, { saved: true, announcedMs: w.s.announcedIntervalMs, learnedMs: w.s.intervalMs });
    this.unsaved.clear();
  }

  status(deviceId: string, online: boolean): void {
    this.window(deviceId).status(online, this.o.now());
  }

  otaStatus(deviceId: string, state: number, result: number, version?: number): void {
    this.window(deviceId).otaStatus(state, result, version, this.o.now());
  }

  /** Cohort labels the telemetry does not carry (hardware revision, group), from the registry. */
  meta(deviceId: string, m: { hardware?: string; group?: string }): void {
    this.window(deviceId).meta(m);
  }

  /**
   * A device the registry knows, seen last at `lastSeenMs`: a restarted service still judges it
   * offline, by the report intervals stored for it (announced, learned; service/health/seed.ts
   * reads them with the registry's rows, in one query for the whole fleet).
   */
  seed(deviceId: string, s: { lastSeenMs: number; firmware?: string; hardware?: string; group?: string; intervals?: StoredIntervals }): void {
    if (this.windows.has(deviceId)) return;
    const w = this.window(deviceId);
    w.s.firstSeenMs = Math.min(w.s.firstSeenMs, s.lastSeenMs);
    w.s.lastSeenMs = s.lastSeenMs;
    const stored = s.intervals;
    if (stored) {
      w.s.announcedIntervalMs = stored.announcedMs;
      w.s.intervalMs = stored.learnedMs;
      Object.assign(w.saved, stored, { saved: true });
    }
    if (s.firmware) w.s.firmware = s.firmware;
    w.meta(s);
  }

  snapshot(deviceId: string): DeviceSnapshot | undefined {
    return this.windows.get(deviceId)?.s;
  }

  *snapshots(): IterableIterator<DeviceSnapshot> {
    for (const w of this.windows.values()) yield w.s;
  }

  get deviceCount(): number {
    return this.windows.size;
  }

  onAlert(l: (c: AlertChange) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  onDevice(l: (id: string) => void): () => void {
    this.deviceListeners.add(l);
    return () => this.deviceListeners.delete(l);
  }

  // ---------------------------------------------------------------- evaluation
  /** Runs every rule once; returns the alert events it caused (already stored and queued). */
  evaluate(): AlertChange[] {
    const now = this.o.now();
    const r = this.rules;
    const open = this.store.unresolved();
    const verdicts: { rule: RuleName; subject: string; deviceId: string | null; v: Verdict }[] = [];
    const offlineIds = new Set<string>();
    for (const w of this.windows.values()) {
      const d = w.s;
      if (d.reports === 0 && d.firmware === "") continue; // a status message only: nothing to judge yet
      let batteryFlat = false;
      for (const rule of DEVICE_RULES) {
        if (!r[rule].enabled) continue;
        const was = open.has(alertKey(rule, d.id));
        const v = rule === "lowBattery" ? lowBattery(d, r.lowBattery, was, now) : rule === "poorConnectivity" ? poorConnectivity(d, r.poorConnectivity, was, now) : offline(d, r.offline, was, now);
        if (v === undefined) continue;
        // A device silent because its battery ran flat is explained: it does not count against its cohort.
        if (rule === "lowBattery" && v.active) batteryFlat = true;
        if (rule === "offline" && v.active && !batteryFlat) offlineIds.add(d.id);
        verdicts.push({ rule, subject: d.id, deviceId: d.id, v });
      }
    }
    if (r.cohort.enabled) {
      const openCohorts = new Set<string>();
      for (const a of open.values()) if (a.rule === "cohort") openCohorts.add(a.subject);
      for (const [key, v] of evaluateCohorts(this.snapshots(), r.cohort, openCohorts, offlineIds, now)) {
        verdicts.push({ rule: "cohort", subject: key, deviceId: null, v });
      }
    }
    const changes: AlertChange[] = [];
    this.o.db.transaction(() => {
      for (const { rule, subject, deviceId, v } of verdicts) {
        const existing = open.get(alertKey(rule, subject));
        if (v.active && !existing) {
          const alert = this.store.open(rule, subject, deviceId, v, now);
          changes.push({ event: "opened", alert });
          this.o.outbox?.enqueue(r[rule].actions, alert, "opened");
        } else if (v.active && existing) {
          const moved = (v.dueByMs ?? 0) - (existing.dueByMs ?? 0);
          if (Math.abs(moved) > DUE_BY_SLACK_MS || (rule === "cohort" && v.summary !== existing.summary)) this.store.update(existing.id, v, now);
        } else if (!v.active && existing) {
          const alert = this.store.resolve(existing.id, now);
          if (alert) {
            changes.push({ event: "resolved", alert });
            this.o.outbox?.enqueue(r[rule].actions, alert, "resolved");
          }
        }
      }
    })();
    for (const c of changes) for (const l of this.listeners) l(c);
    return changes;
  }

  /** An operator acknowledges an open alert (it stays until the condition clears). */
  acknowledge(id: number, by: string): Alert | undefined {
    const alert = this.o.db.transaction(() => {
      const a = this.store.acknowledge(id, by, this.o.now());
      if (a) this.o.outbox?.enqueue(this.rules[a.rule].actions, a, "acknowledged");
      return a;
    })();
    if (alert) for (const l of this.listeners) l({ event: "acknowledged", alert });
    return alert;
  }
}

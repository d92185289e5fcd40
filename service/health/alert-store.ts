/**
 * Alerts in SQLite, one row per episode: open → (acknowledged) → resolved. A partial unique
 * index allows one unresolved alert per (rule, subject), so an episode is raised once even
 * across a restart of the service; a new episode is a new row.
 */
import type Database from "better-sqlite3";
import { RULE_ACTION, type RuleName, type Verdict } from "./rules";

export type AlertState = "open" | "acknowledged" | "resolved";

export interface Alert {
  id: number;
  rule: RuleName;
  subject: string;
  deviceId: string | null;
  state: AlertState;
  action: string;
  summary: string;
  detail: Record<string, unknown>;
  dueByMs: number | null;
  openedAtMs: number;
  acknowledgedAtMs: number | null;
  acknowledgedBy: string | null;
  resolvedAtMs: number | null;
}

interface Row {
  id: number;
  rule: string;
  subject: string;
  device_id: string | null;
  state: string;
  action: string;
  summary: string;
  detail: string;
  due_by: number | null;
  opened_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
}

function toAlert(r: Row): Alert {
  return {
    id: r.id,
    rule: r.rule as RuleName,
    subject: r.subject,
    deviceId: r.device_id,
    state: r.state as AlertState,
    action: r.action,
    summary: r.summary,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    dueByMs: r.due_by,
    openedAtMs: r.opened_at,
    acknowledgedAtMs: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by,
    resolvedAtMs: r.resolved_at,
  };
}

export function alertKey(rule: string, subject: string): string {
  return `${rule}\u0000${subject}`;
}

export interface AlertQuery {
  state?: AlertState | "unresolved";
  rule?: RuleName;
  deviceId?: string;
  limit?: number;
  offset?: number;
}

export class AlertStore {
  private readonly insert;
  private readonly refresh;
  private readonly close;
  private readonly ack;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO alerts (rule, subject, device_id, state, action, summary, detail, due_by, opened_at, updated_at)
       VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)`,
    );
    this.refresh = db.prepare(`UPDATE alerts SET summary = ?, detail = ?, due_by = ?, updated_at = ? WHERE id = ?`);
    this.close = db.prepare(`UPDATE alerts SET state = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ? AND state != 'resolved'`);
    this.ack = db.prepare(`UPDATE alerts SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ? AND state = 'open'`);
  }

  /** The unresolved alerts, keyed by alertKey(rule, subject). */
  unresolved(): Map<string, Alert> {
    const rows = this.db.prepare(`SELECT * FROM alerts WHERE state != 'resolved'`).all() as Row[];
    return new Map(rows.map((r) => [alertKey(r.rule, r.subject), toAlert(r)]));
  }

  open(rule: RuleName, subject: string, deviceId: string | null, v: Extract<Verdict, { active: true }>, nowMs: number): Alert {
    const info = this.insert.run(rule, subject, deviceId, RULE_ACTION[rule], v.summary, JSON.stringify(v.detail), v.dueByMs ?? null, nowMs, nowMs);
    return this.get(Number(info.lastInsertRowid))!;
  }

  update(id: number, v: Extract<Verdict, { active: true }>, nowMs: number): void {
    this.refresh.run(v.summary, JSON.stringify(v.detail), v.dueByMs ?? null, nowMs, id);
  }

  resolve(id: number, nowMs: number): Alert | undefined {
    return this.close.run(nowMs, nowMs, id).changes === 1 ? this.get(id) : undefined;
  }

  /** Acknowledges an open alert; undefined when there is no such open alert. */
  acknowledge(id: number, by: string, nowMs: number): Alert | undefined {
    return this.ack.run(nowMs, by, nowMs, id).changes === 1 ? this.get(id) : undefined;
  }

  get(id: number): Alert | undefined {
    const r = this.db.prepare(`SELECT * FROM alerts WHERE id = ?`).get(id) as Row | undefined;
    return r && toAlert(r);
  }

  list(q: AlertQuery = {}): { total: number; alerts: Alert[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state === "unresolved") where.push(`state != 'resolved'`);
    else if (q.state) (where.push(`state = ?`), args.push(q.state));
    if (q.rule) (where.push(`rule = ?`), args.push(q.rule));
    if (q.deviceId) (where.push(`device_id = ?`), args.push(q.deviceId));
    const w = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const total = (this.db.prepare(`SELECT count(*) AS n FROM alerts ${w}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM alerts ${w} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, q.limit ?? 100, q.offset ?? 0) as Row[];
    return { total, alerts: rows.map(toAlert) };
  }

  /** Unresolved alerts counted by rule, and the cohort alerts themselves (for the overview). */
  summary(): { byRule: Record<string, number>; cohorts: Alert[] } {
    const byRule: Record<string, number> = { lowBattery: 0, poorConnectivity: 0, offline: 0, cohort: 0 };
    for (const r of this.db.prepare(`SELECT rule, count(*) AS n FROM alerts WHERE state != 'resolved' GROUP BY rule`).all() as { rule: string; n: number }[]) byRule[r.rule] = r.n;
    const cohorts = (this.db.prepare(`SELECT * FROM alerts WHERE rule = 'cohort' AND state != 'resolved' ORDER BY id`).all() as Row[]).map(toAlert);
    return { byRule, cohorts };
  }
}

const CSV_COLUMNS = ["id", "rule", "subject", "deviceId", "state", "action", "summary", "dueBy", "openedAt", "acknowledgedAt", "resolvedAt"] as const;

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

export function alertCsvHeader(): string {
  return CSV_COLUMNS.join(",") + "\n";
}

/** One CSV line (RFC 4180 quoting) per alert. */
export function alertCsvRow(a: Alert): string {
  return [a.id, a.rule, a.subject, a.deviceId, a.state, a.action, a.summary, iso(a.dueByMs), iso(a.openedAtMs), iso(a.acknowledgedAtMs), iso(a.resolvedAtMs)].map(csvCell).join(",") + "\n";
}

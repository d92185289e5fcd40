/**
 * The actions outbox: every action an alert event triggers is first written to SQLite (in the
 * same transaction as the alert change), then delivered by a pump that retries failures with
 * full-jitter backoff, U(0, min(cap, base·2^n)). A delivery is marked done only after its sender
 * succeeded, so a restart of the service (even kill -9) redelivers what was not confirmed:
 * at-least-once. Each delivery has a stable id, `<alert>-<event>-<action>`, that receivers use to
 * drop duplicates.
 */
import type Database from "better-sqlite3";
import type { Alert } from "../health/alert-store";
import type { ActionConfig, AlertEvent } from "../health/config";

export const RETRY_BASE_MS = 1000;
export const RETRY_CAP_MS = 5 * 60_000;
/** Deliveries in flight at once. */
const PARALLEL = 8;
const NEVER = Number.MAX_SAFE_INTEGER;

export interface Delivery {
  id: string;
  action: string;
  type: ActionConfig["type"];
  event: AlertEvent;
  alert: Alert;
  attempts: number;
  createdAtMs: number;
}

/** Delivers one item; throws (or rejects) on failure, which schedules a retry. */
export type Sender = (d: Delivery, config: ActionConfig) => Promise<void>;

export interface OutboxClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Row {
  id: string;
  action: string;
  type: string;
  event: string;
  payload: string;
  created_at: number;
  attempts: number;
}

export interface OutboxStats {
  pending: number;
  delivered: number;
  failing: number;
}

export class Outbox {
  private timer: unknown;
  private wakeAt = NEVER;
  private running = 0;
  private readonly inFlight = new Set<string>();
  private stopped = false;
  /** Called after each attempt (tests and the dashboard watch deliveries). */
  onAttempt?: (d: Delivery, error: string | undefined) => void;

  constructor(
    private readonly db: Database.Database,
    private actions: Record<string, ActionConfig>,
    private readonly senders: Partial<Record<ActionConfig["type"], Sender>>,
    private readonly clock: OutboxClock,
    private readonly random: () => number = Math.random,
  ) {}

  setActions(actions: Record<string, ActionConfig>): void {
    this.actions = actions;
  }

  /**
   * Queues the actions `names` for an alert event (only those whose `events` include it, and
   * MQTT commands only for device alerts). Call inside the transaction that changed the alert.
   */
  enqueue(names: readonly string[], alert: Alert, event: AlertEvent): number {
    const now = this.clock.now();
    const ins = this.db.prepare(
      `INSERT OR IGNORE INTO action_outbox (id, action, type, alert_id, event, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let n = 0;
    for (const name of names) {
      const a = this.actions[name];
      if (!a || !a.events.includes(event)) continue;
      if (a.type === "mqtt" && alert.deviceId === null) continue;
      n += ins.run(`${alert.id}-${event}-${name}`, name, a.type, alert.id, event, JSON.stringify(alert), now, now).changes;
    }
    if (n > 0) this.wake(now);
    return n;
  }

  /** Starts delivering (also what a restarted service does first: pending rows are resumed). */
  start(): void {
    this.stopped = false;
    this.wake(this.clock.now());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = NEVER;
  }

  /** Resolves when nothing is in flight (pending rows may remain, waiting for their retry time). */
  async idle(): Promise<void> {
    while (this.running > 0) await new Promise((r) => setImmediate(r));
  }

  stats(): OutboxStats {
    const r = this.db
      .prepare(
        `SELECT sum(delivered_at IS NULL) AS pending, sum(delivered_at IS NOT NULL) AS delivered, sum(delivered_at IS NULL AND attempts > 0) AS failing FROM action_outbox`,
      )
      .get() as { pending: number | null; delivered: number | null; failing: number | null };
    return { pending: r.pending ?? 0, delivered: r.delivered ?? 0, failing: r.failing ?? 0 };
  }

  list(limit = 100, offset = 0): { id: string; action: string; type: string; event: string; attempts: number; createdAtMs: number; deliveredAtMs: number | null; lastError: string | null }[] {
    return (
      this.db.prepare(`SELECT id, action, type, event, attempts, created_at, delivered_at, last_error FROM action_outbox ORDER BY created_at DESC, id LIMIT ? OFFSET ?`).all(limit, offset) as {
        id: string;
        action: string;
        type: string;
        event: string;
        attempts: number;
        created_at: number;
        delivered_at: number | null;
        last_error: string | null;
      }[]
    ).map((r) => ({ id: r.id, action: r.action, type: r.type, event: r.event, attempts: r.attempts, createdAtMs: r.created_at, deliveredAtMs: r.delivered_at, lastError: r.last_error }));
  }

  private wake(at: number): void {
    if (this.stopped || at >= this.wakeAt) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.wakeAt = NEVER;
      this.pump();
    }, Math.max(0, at - this.clock.now()));
  }

  private pump(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const free = PARALLEL - this.running;
    if (free > 0) {
      const due = this.db
        .prepare(`SELECT id, action, type, event, payload, created_at, attempts FROM action_outbox WHERE delivered_at IS NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?`)
        .all(now, free + this.inFlight.size) as Row[];
      for (const r of due) {
        if (this.running >= PARALLEL) break;
        if (this.inFlight.has(r.id)) continue;
        void this.attempt(r);
      }
    }
    const next = this.db.prepare(`SELECT min(next_at) AS t FROM action_outbox WHERE delivered_at IS NULL AND next_at > ?`).get(now) as { t: number | null };
    if (next.t !== null && next.t < NEVER) this.wake(next.t);
  }

  private async attempt(r: Row): Promise<void> {
    const d: Delivery = { id: r.id, action: r.action, type: r.type as ActionConfig["type"], event: r.event as AlertEvent, alert: JSON.parse(r.payload) as Alert, attempts: r.attempts, createdAtMs: r.created_at };
    const config = this.actions[r.action];
    this.inFlight.add(r.id);
    this.running++;
    let error: string | undefined;
    try {
      if (!config) throw new Error(`action "${r.action}" is no longer configured`);
      const send = this.senders[config.type];
      if (!send) throw new Error(`no sender for action type "${config.type}"`);
      await send(d, config);
    } catch (err) {
      error = (err as Error).message ?? String(err);
    }
    this.running--;
    this.inFlight.delete(r.id);
    if (this.stopped) return; // the row stays pending; the next start delivers it again
    const now = this.clock.now();
    if (error === undefined) {
      this.db.prepare(`UPDATE action_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?`).run(now, r.id);
    } else {
      const n = r.attempts + 1;
      // An action that is gone from the rules file is parked, not retried forever.
      const wait = config ? Math.floor(this.random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(n, 30))) + 1 : NEVER - now;
      this.db.prepare(`UPDATE action_outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?`).run(n, now + wait, error.slice(0, 500), r.id);
    }
    this.onAttempt?.(d, error);
    this.pump();
  }
}

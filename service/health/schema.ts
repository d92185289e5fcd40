/**
 * The tables proactive support adds to the service database: alerts (one row per episode),
 * the actions outbox (durable, at-least-once), commissioning results, and the report interval
 * each device is judged by (so a restarted service keeps it). Spread at the end of the
 * service's migration list (service/db/migrations.ts); never edit a shipped statement, add a new one.
 */
export const HEALTH_MIGRATIONS: readonly { name: string; sql: string }[] = [
  {
    name: "health: alerts, actions outbox, commissioning results",
    sql: `CREATE TABLE alerts (
     id INTEGER PRIMARY KEY,
     rule TEXT NOT NULL,
     subject TEXT NOT NULL,
     device_id TEXT,
     state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
     action TEXT NOT NULL,
     summary TEXT NOT NULL,
     detail TEXT NOT NULL,
     due_by INTEGER,
     opened_at INTEGER NOT NULL,
     acknowledged_at INTEGER,
     acknowledged_by TEXT,
     resolved_at INTEGER,
     updated_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX alerts_one_episode ON alerts (rule, subject) WHERE state != 'resolved';
   CREATE INDEX alerts_by_state ON alerts (state, rule);
   CREATE INDEX alerts_by_device ON alerts (device_id, opened_at);
   CREATE TABLE action_outbox (
     id TEXT PRIMARY KEY,
     action TEXT NOT NULL,
     type TEXT NOT NULL,
     alert_id INTEGER,
     event TEXT NOT NULL,
     payload TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     delivered_at INTEGER,
     last_error TEXT
   );
   CREATE INDEX action_outbox_due ON action_outbox (next_at) WHERE delivered_at IS NULL;
   CREATE TABLE commissioning (
     id INTEGER PRIMARY KEY,
     device_id TEXT NOT NULL,
     at INTEGER NOT NULL,
     ok INTEGER NOT NULL,
     reasons TEXT NOT NULL,
     figures TEXT NOT NULL
   );
   CREATE INDEX commissioning_by_device ON commissioning (device_id, at);`,
  },
  {
    name: "health: report intervals per device (the offline rule after a restart)",
    // Written when a value changes (service/health/interval-store.ts), not per batch.
    sql: `CREATE TABLE device_intervals (
     device_id TEXT PRIMARY KEY,
     announced_ms INTEGER,      -- batch key 15 of the latest batch; NULL for firmware that does not send it
     learned_ms INTEGER NOT NULL, -- learned from the batch spacing; 0 until known
     updated_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  },
];

/** Rollouts in SQLite: the rollout row, one row per device, and an event log. */
import type { Db } from "../db/open";
import type { DeviceState, RolloutState } from "./machine";
import type { RolloutSpec } from "./spec";

interface RolloutRow {
  id: string;
  created_at: number;
  spec: string;
  status: string;
  wave: number;
  wave_started_at: number | null;
  wave_succeeded_at: number | null;
  halt_rule: string | null;
  halt_detail: string | null;
  updated_at: number;
  finished_at: number | null;
}

export interface StoredRollout {
  state: RolloutState;
  createdAt: number;
}

export class RolloutStore {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      insert: db.prepare(
        `INSERT INTO rollouts (id, created_at, spec, status, wave, wave_started_at, wave_succeeded_at, halt_rule, halt_detail, updated_at, finished_at)
         VALUES (@id, @createdAt, @spec, @status, @wave, @waveStartedAt, @waveSucceededAt, @haltRule, @haltDetail, @updatedAt, @finishedAt)`,
      ),
      update: db.prepare(
        `UPDATE rollouts SET status = @status, wave = @wave, wave_started_at = @waveStartedAt, wave_succeeded_at = @waveSucceededAt,
           halt_rule = @haltRule, halt_detail = @haltDetail, updated_at = @updatedAt, finished_at = @finishedAt WHERE id = @id`,
      ),
      device: db.prepare(
        `INSERT INTO rollout_devices (rollout_id, device_id, position, wave, state, result, cause, from_version, offered_at, offers, progress_at,
           updated_at, retries, interrupted, detail, rollback_at, rollback_result)
         VALUES (@rid, @deviceId, @position, @wave, @state, @result, @cause, @fromVersion, @offeredAt, @offers, @progressAt, @updatedAt,
           @retries, @interrupted, @detail, @rollbackAt, @rollbackResult)
         ON CONFLICT(rollout_id, device_id) DO UPDATE SET state = excluded.state, result = excluded.result, cause = excluded.cause,
           offered_at = excluded.offered_at, offers = excluded.offers, progress_at = excluded.progress_at, updated_at = excluded.updated_at,
           retries = excluded.retries, interrupted = excluded.interrupted, detail = excluded.detail, rollback_at = excluded.rollback_at,
           rollback_result = excluded.rollback_result`,
      ),
      event: db.prepare("INSERT INTO rollout_events (rollout_id, at, kind, detail) VALUES (?, ?, ?, ?)"),
      one: db.prepare<[string], RolloutRow>("SELECT * FROM rollouts WHERE id = ?"),
      all: db.prepare<[], RolloutRow>("SELECT * FROM rollouts ORDER BY created_at, id"),
      live: db.prepare<[], RolloutRow>("SELECT * FROM rollouts WHERE status NOT IN ('cancelled', 'completed') ORDER BY created_at, id"),
      devices: db.prepare("SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position"),
      events: db.prepare("SELECT at, kind, detail FROM rollout_events WHERE rollout_id = ? ORDER BY id DESC LIMIT ?"),
      count: db.prepare("SELECT count(*) AS n FROM rollouts"),
    };
  }

  nextId(): string {
    const n = (this.q.count.get() as { n: number }).n + 1;
    return `r${String(n).padStart(4, "0")}`;
  }

  private params(r: RolloutState) {
    return {
      id: r.id, status: r.status, wave: r.wave, waveStartedAt: r.waveStartedAt, waveSucceededAt: r.waveSucceededAt, haltRule: r.haltRule,
      haltDetail: r.haltDetail === null ? null : JSON.stringify(r.haltDetail), updatedAt: r.updatedAt, finishedAt: r.finishedAt,
    };
  }

  /** Stores a step's outcome: the rollout, the changed devices, the events. Call inside a transaction. */
  save(r: RolloutState, changed: DeviceState[], events: { kind: string; detail: Record<string, unknown> }[], now: number): void {
    this.q.update.run(this.params(r));
    for (const d of changed) this.q.device.run(this.deviceParams(r.id, d));
    for (const e of events) this.q.event.run(r.id, now, e.kind, JSON.stringify(e.detail));
  }

  create(r: RolloutState, devices: DeviceState[], createdAt: number): void {
    this.q.insert.run({ ...this.params(r), createdAt, spec: JSON.stringify({ ...r.spec, waveEnds: r.waveEnds }) });
    for (const d of devices) this.q.device.run(this.deviceParams(r.id, d));
    this.q.event.run(r.id, createdAt, "created", JSON.stringify({ devices: devices.length, waveEnds: r.waveEnds }));
  }

  private deviceParams(rid: string, d: DeviceState) {
    return { rid, ...d };
  }

  load(id: string): { rollout: RolloutState; createdAt: number; devices: DeviceState[] } | undefined {
    const row = this.q.one.get(id);
    return row && this.fromRow(row);
  }

  /** The rollouts not yet ended, with their devices: what a starting service resumes (a finished one's devices are not read). */
  loadLive(): { rollout: RolloutState; createdAt: number; devices: DeviceState[] }[] {
    return this.q.live.all().map((row) => this.fromRow(row));
  }

  events(id: string, limit: number): { at: number; kind: string; detail: unknown }[] {
    return (this.q.events.all(id, limit) as { at: number; kind: string; detail: string | null }[]).map((e) => ({ ...e, detail: e.detail === null ? null : JSON.parse(e.detail) }));
  }

  /** Every rollout, without its devices (the list). */
  loadRollouts(): { rollout: RolloutState; createdAt: number }[] {
    return this.q.all.all().map((row) => this.stateOf(row));
  }

  private fromRow(row: RolloutRow): { rollout: RolloutState; createdAt: number; devices: DeviceState[] } {
    return { ...this.stateOf(row), devices: this.devicesOf(row.id) };
  }

  private devicesOf(id: string): DeviceState[] {
    return (this.q.devices.all(id) as Record<string, unknown>[]).map(
      (d): DeviceState => ({
        deviceId: d.device_id as string, position: d.position as number, wave: d.wave as number, state: d.state as DeviceState["state"],
        result: d.result as number | null, cause: d.cause as number | null, fromVersion: d.from_version as number | null,
        offeredAt: d.offered_at as number | null, offers: d.offers as number, progressAt: d.progress_at as number | null,
        updatedAt: d.updated_at as number, retries: d.retries as number, interrupted: d.interrupted as number, detail: d.detail as string | null,
        rollbackAt: d.rollback_at as number | null, rollbackResult: d.rollback_result as number | null,
      }),
    );
  }

  private stateOf(row: RolloutRow): { rollout: RolloutState; createdAt: number } {
    const spec = JSON.parse(row.spec) as RolloutSpec & { waveEnds?: number[] };
    const rollout: RolloutState = {
      id: row.id, spec, status: row.status as RolloutState["status"], wave: row.wave, waveEnds: spec.waveEnds ?? [],
      waveStartedAt: row.wave_started_at ?? row.created_at, waveSucceededAt: row.wave_succeeded_at, haltRule: row.halt_rule,
      haltDetail: row.halt_detail === null ? null : JSON.parse(row.halt_detail), updatedAt: row.updated_at, finishedAt: row.finished_at,
    };
    return { rollout, createdAt: row.created_at };
  }
}

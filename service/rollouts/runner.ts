/**
 * The rollout runner: feeds the pure step function (machine.ts) with time, device facts, OTA
 * statuses and health verdicts; stores each step's result in one transaction; then performs
 * its effects. On start it loads every live rollout and publishes again the offers that were
 * in flight (retained, idempotent: the same offer, not a second one), so a kill -9 at any point
 * resumes each rollout where it was.
 */
import crypto from "node:crypto";
import type { FleetService, ServiceModule } from "../fleet-service";
import type { DeviceChange } from "../registry/ingest";
import { loadBundle, retryBundle, type LoadedBundle } from "./bundle";
import { RolloutDevices } from "./device-index";
import { compareHealth } from "./health";
import {
  FINAL_STATES, step, tally, waveEnds, type DeviceFacts, type DeviceState, type HealthVerdict, type RolloutInput, type RolloutState, type Tally,
} from "./machine";
import { imageHexOf, OfferPublisher } from "./offers";
import type { RolloutSpec } from "./spec";
import { RolloutStore } from "./store";
import { matches, parseTarget } from "./target";

export interface RunnerOptions {
  /** How often rollouts advance (offers, timeouts, waves). */
  tickMs?: number;
  /** How often the health comparison (rule b) runs for a running rollout. */
  healthEveryMs?: number;
  /**
   * An offer with no answer this long is published again, and again after each such period (the
   * same retained message; a device already on it ignores it): a delivery lost in a broker
   * failover is repaired before the in-progress timeout. Default 5 min.
   */
  resendMs?: number;
  /** Turns a rollout's `bundle` into the bundle (default: a directory on disk; the simulator passes its own). */
  resolveBundle?: (ref: string) => LoadedBundle;
}

interface Live {
  rollout: RolloutState;
  createdAt: number;
  devices: RolloutDevices;
  bundle: LoadedBundle | undefined;
  rollbackBundle: LoadedBundle | undefined;
  health: HealthVerdict | undefined;
  healthAt: number;
  /** When each silent offer (device id) was last published again. */
  resent: Map<string, number>;
}

export class RolloutError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "RolloutError";
  }
}

export class RolloutRunner implements ServiceModule {
  readonly store: RolloutStore;
  private readonly live = new Map<string, Live>();
  /** device id → live rollout ids holding it (not in a final state). */
  private readonly byDevice = new Map<string, Set<string>>();
  /** Counts of finished rollouts not in memory (they no longer change), read once for list(). */
  private readonly finishedTallies = new Map<string, Tally>();
  private readonly publisher: OfferPublisher;
  private timer: unknown;
  private stopped = false;
  private readonly tickMs: number;
  private readonly healthEveryMs: number;
  private readonly resendMs: number;
  private readonly resolve: (ref: string) => LoadedBundle;
  private readonly factsQuery;

  constructor(
    private readonly service: FleetService,
    options: RunnerOptions = {},
  ) {
    this.store = new RolloutStore(service.db);
    this.publisher = new OfferPublisher(service.transport, service.log);
    this.tickMs = options.tickMs ?? 5_000;
    this.healthEveryMs = options.healthEveryMs ?? 60_000;
    this.resendMs = options.resendMs ?? 300_000;
    this.resolve = options.resolveBundle ?? loadBundle;
    this.factsQuery = service.db.prepare("SELECT online, battery_pct, battery_status, ota_state, ota_version, firmware_num, hardware, group_name FROM devices WHERE id = ?");
    // A device's stratum (its labels) is remembered by the rollouts' indexes: look it up again.
    service.registry.onLabels((id) => {
      for (const live of this.live.values()) live.devices.relabel(id);
    });
  }

  start(): void {
    for (const stored of this.store.loadLive()) {
      const live = this.attach(stored.rollout, stored.createdAt, stored.devices);
      this.reconcile(live);
      for (const d of live.devices.values()) {
        if ((d.state === "offered" || d.state === "downloading" || d.state === "interrupted") && live.bundle) void this.publisher.offer(d.deviceId, live.bundle);
        else if (d.state === "retrying" && live.bundle) void this.publisher.offer(d.deviceId, retryBundle(live.bundle));
      }
    }
    this.service.ingest.onChanges((changes) => this.onChanges(changes));
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.service.clock.clearTimeout(this.timer);
  }

  private attach(rollout: RolloutState, createdAt: number, devices: DeviceState[]): Live {
    const live: Live = {
      rollout, createdAt, devices: new RolloutDevices(devices), bundle: undefined, rollbackBundle: undefined, health: undefined, healthAt: -Infinity, resent: new Map(),
    };
    try {
      live.bundle = this.resolve(rollout.spec.bundle);
      if (rollout.spec.rollbackBundle) live.rollbackBundle = this.resolve(rollout.spec.rollbackBundle);
    } catch (err) {
      this.service.log(`rollout ${rollout.id}: ${(err as Error).message}; offers wait until the bundle is back`);
    }
    this.live.set(rollout.id, live);
    for (const d of devices) if (!FINAL_STATES.has(d.state)) this.index(d.deviceId, rollout.id, true);
    return live;
  }

  /** Feeds the registry's last OTA status of each device in flight: a status stored while no rollout listened. */
  private reconcile(live: Live): void {
    const q = this.service.db.prepare("SELECT ota_state, ota_result, ota_version, ota_detail, ota_at, firmware_num FROM devices WHERE id = ?");
    for (const d of [...live.devices.values()]) {
      if (FINAL_STATES.has(d.state) || d.offers === 0) continue;
      const r = q.get(d.deviceId) as { ota_state: number | null; ota_result: number | null; ota_version: number | null; ota_detail: string | null; ota_at: number | null; firmware_num: number | null } | undefined;
      if (!r || r.ota_state === null || r.ota_at === null || r.ota_at < (d.offeredAt ?? 0)) continue;
      this.apply(live, {
        type: "status", now: r.ota_at, deviceId: d.deviceId,
        status: { state: r.ota_state as 0, result: r.ota_result ?? 0, version: r.ota_version ?? undefined, detail: r.ota_detail ?? undefined, running: r.firmware_num ?? 0 },
      });
    }
  }

  private index(deviceId: string, rolloutId: string, on: boolean): void {
    let s = this.byDevice.get(deviceId);
    if (on) {
      if (!s) this.byDevice.set(deviceId, (s = new Set()));
      s.add(rolloutId);
    } else if (s) {
      s.delete(rolloutId);
      if (s.size === 0) this.byDevice.delete(deviceId);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.service.clock.setTimeout(() => {
      this.tickAll();
      this.schedule();
    }, this.tickMs);
  }

  /** Advances every running rollout once (also called by tests and the simulator). */
  tickAll(): void {
    const now = this.service.clock.now();
    for (const live of this.live.values()) {
      if (live.rollout.status !== "running") continue;
      if (!live.bundle) {
        try {
          live.bundle = this.resolve(live.rollout.spec.bundle);
        } catch {
          continue;
        }
      }
      let health: HealthVerdict | undefined;
      if (now - live.healthAt >= this.healthEveryMs) {
        live.healthAt = now;
        health = compareHealth(this.service.db, live.devices.values(), live.rollout.spec.version, live.createdAt, live.rollout.spec.health);
        live.health = health;
      }
      this.apply(live, { type: "tick", now, facts: (id) => this.facts(id, live.rollout.spec), health });
      this.resendSilentOffers(live, now);
    }
  }

  /** Publishes again each offer (or retry) without an answer for resendMs, in position order. */
  private resendSilentOffers(live: Live, now: number): void {
    const bundle = live.bundle!;
    for (const id of live.resent.keys()) {
      const d = live.devices.get(id);
      if (!d || (d.state !== "offered" && d.state !== "retrying") || d.offeredAt === null) live.resent.delete(id);
    }
    const due: DeviceState[] = [];
    for (const state of ["offered", "retrying"] as const) {
      for (const d of live.devices.inState(state)) {
        if (d.offeredAt !== null && now - (live.resent.get(d.deviceId) ?? d.offeredAt) >= this.resendMs) due.push(d);
      }
    }
    for (const d of due.sort((a, b) => a.position - b.position)) {
      live.resent.set(d.deviceId, now);
      void this.publisher.offer(d.deviceId, d.state === "retrying" ? retryBundle(bundle) : bundle);
    }
  }

  private facts(id: string, spec: RolloutSpec): DeviceFacts | undefined {
    const r = this.factsQuery.get(id) as {
      online: number | null; battery_pct: number | null; battery_status: number | null; ota_state: number | null; ota_version: number | null; firmware_num: number | null;
      hardware: string | null; group_name: string | null;
    } | undefined;
    if (!r) return undefined;
    return {
      online: r.online === 1,
      batteryPct: r.battery_pct,
      batteryStatus: r.battery_status,
      busy: r.ota_state !== null && r.ota_state !== 0 && r.ota_version !== spec.version,
      firmwareNum: r.firmware_num,
      stratum: `hardware=${r.hardware ?? "-"} group=${r.group_name ?? "-"}`,
    };
  }

  private onChanges(changes: DeviceChange[]): void {
    let wake = false;
    for (const c of changes) {
      const ids = this.byDevice.get(c.deviceId);
      if (!ids) continue;
      if (c.kind === "ota") {
        for (const rid of [...ids]) {
          const live = this.live.get(rid);
          if (live && live.rollout.status !== "cancelled" && live.rollout.status !== "completed") this.apply(live, { type: "status", now: c.at, deviceId: c.deviceId, status: c.status });
        }
      } else if (c.kind === "online") wake = true;
    }
    void wake; // deferred devices are looked at on the next tick
  }

  /** One step: persist, then act. */
  private apply(live: Live, input: RolloutInput): void {
    const result = step(live.rollout, live.devices, input);
    if (result.rollout === live.rollout && result.changed.length === 0 && result.effects.length === 0) return;
    const events = result.effects.filter((e) => e.type === "event").map((e) => ({ kind: (e as { kind: string }).kind, detail: (e as { detail: Record<string, unknown> }).detail }));
    this.service.db.transaction(() => this.store.save(result.rollout, result.changed, events, input.now))();
    live.rollout = result.rollout;
    for (const d of result.changed) {
      live.devices.set(d.deviceId, d);
      this.index(d.deviceId, live.rollout.id, !FINAL_STATES.has(d.state));
    }
    if (result.rollout.status === "cancelled" || result.rollout.status === "completed") {
      for (const id of live.devices.keys()) this.index(id, live.rollout.id, false);
      void this.publisher.clearExcept(this.neededImages());
    }
    for (const e of result.effects) {
      if (e.type === "offer" && live.bundle) void this.publisher.offer(e.deviceId, live.bundle);
      else if (e.type === "withdraw") void this.publisher.withdraw(e.deviceId);
      else if (e.type === "offer-retry" && live.bundle) void this.publisher.offer(e.deviceId, retryBundle(live.bundle));
      else if (e.type === "offer-rollback" && live.rollbackBundle) void this.publisher.offer(e.deviceId, live.rollbackBundle);
      else if (e.type === "event") this.service.log(`rollout ${live.rollout.id}: ${e.kind} ${JSON.stringify(e.detail)}`);
    }
  }

  /** Images (hex SHA-256) whose shared blocks a rollout not yet ended may still offer. */
  private neededImages(): Set<string> {
    const needed = new Set<string>();
    for (const live of this.live.values()) {
      if (live.rollout.status === "cancelled" || live.rollout.status === "completed") continue;
      if (live.bundle) needed.add(imageHexOf(live.bundle));
      if (live.rollbackBundle) needed.add(imageHexOf(live.rollbackBundle));
    }
    return needed;
  }

  // ---------------------------------------------------------------- the API's side
  /** Creates and starts a rollout; the devices are chosen now, from the registry. */
  create(spec: Omit<RolloutSpec, "version" | "hardwareId" | "rollbackVersion">): { id: string; devices: number; skipped: number } {
    let target;
    try {
      target = parseTarget(spec.target);
    } catch (err) {
      throw new RolloutError(400, (err as Error).message);
    }
    let bundle: LoadedBundle;
    let rollbackBundle: LoadedBundle | undefined;
    try {
      bundle = this.resolve(spec.bundle);
      if (spec.rollbackBundle) rollbackBundle = this.resolve(spec.rollbackBundle);
    } catch (err) {
      throw new RolloutError(400, (err as Error).message);
    }
    const full: RolloutSpec = { ...spec, version: bundle.manifest.version, hardwareId: bundle.manifest.hardwareId };
    if (rollbackBundle) full.rollbackVersion = rollbackBundle.manifest.version;
    const now = this.service.clock.now();
    const id = this.store.nextId();
    const rows = this.service.db.prepare("SELECT id, firmware_num, group_name, hardware FROM devices").all() as {
      id: string; firmware_num: number | null; group_name: string | null; hardware: string | null;
    }[];
    let skipped = 0;
    const chosen = rows.filter((d) => {
      if (!matches(target, d)) return false;
      if (this.byDevice.has(d.id)) return skipped++, false; // in another live rollout
      return true;
    });
    if (chosen.length === 0) throw new RolloutError(400, `target "${spec.target}" matches no device${skipped ? ` (${skipped} are in another live rollout)` : ""}`);
    // A pseudo-random order fixed by the rollout id: the canary is a sample of the whole target.
    const key = (d: string) => crypto.createHash("sha256").update(`${id}:${d}`).digest().readUInt32BE(0);
    const ordered = chosen.map((d) => ({ d, k: key(d.id) })).sort((a, b) => a.k - b.k || (a.d.id < b.d.id ? -1 : 1)).map((x) => x.d);
    const ends = waveEnds(ordered.length, spec.canary, spec.waves);
    const devices: DeviceState[] = ordered.map((d, position) => ({
      deviceId: d.id, position, wave: ends.findIndex((e) => position < e), state: "queued", result: null, cause: null, fromVersion: d.firmware_num,
      offeredAt: null, offers: 0, progressAt: null, updatedAt: now, retries: 0, interrupted: 0, detail: null, rollbackAt: null, rollbackResult: null,
    }));
    const rollout: RolloutState = {
      id, spec: full, status: "running", wave: 0, waveEnds: ends, waveStartedAt: now, waveSucceededAt: null, haltRule: null, haltDetail: null, updatedAt: now, finishedAt: null,
    };
    this.service.db.transaction(() => this.store.create(rollout, devices, now))();
    const live = this.attach(rollout, now, devices);
    live.bundle = bundle;
    live.rollbackBundle = rollbackBundle;
    this.apply(live, { type: "tick", now, facts: (d) => this.facts(d, full) });
    return { id, devices: devices.length, skipped };
  }

  command(id: string, command: "pause" | "resume" | "cancel"): RolloutState {
    const live = this.live.get(id);
    if (!live) {
      if (this.store.load(id)) throw new RolloutError(409, `rollout ${id} is finished; nothing to ${command}`);
      throw new RolloutError(404, `no rollout "${id}"`);
    }
    const before = live.rollout.status;
    const okFrom = command === "pause" ? ["running"] : command === "resume" ? ["paused", "halted"] : ["running", "paused", "halted"];
    if (!okFrom.includes(before)) throw new RolloutError(409, `rollout ${id} is ${before}; cannot ${command}`);
    this.apply(live, { type: "command", now: this.service.clock.now(), command });
    if (command === "resume") this.apply(live, { type: "tick", now: this.service.clock.now(), facts: (d) => this.facts(d, live.rollout.spec) });
    return live.rollout;
  }

  /** The rollout with its counts, waves, halt rule and numbers, and the latest health comparison. */
  status(id: string): Record<string, unknown> {
    const live = this.live.get(id);
    const stored = live ? { rollout: live.rollout, createdAt: live.createdAt, devices: [...live.devices.values()] } : this.store.load(id);
    if (!stored) throw new RolloutError(404, `no rollout "${id}"`);
    const r = stored.rollout;
    const devices = [...stored.devices];
    const t = tally(devices);
    const waves = r.waveEnds.map((end, w) => {
      const inWave = devices.filter((d) => d.wave === w);
      const byState: Record<string, number> = {};
      for (const d of inWave) byState[d.state] = (byState[d.state] ?? 0) + 1;
      return { wave: w, name: w === 0 ? "canary" : `${r.spec.waves[w - 1]}%`, upTo: end, devices: inWave.length, byState };
    });
    return {
      id: r.id, status: r.status, createdAt: stored.createdAt, updatedAt: r.updatedAt, finishedAt: r.finishedAt,
      version: r.spec.version, target: r.spec.target, bundle: r.spec.bundle, wave: r.wave, waveSucceededAt: r.waveSucceededAt,
      halt: r.haltRule ? { rule: r.haltRule, detail: r.haltDetail } : null,
      counts: { total: t.total, executed: t.executed, failures: t.failures, succeeded: t.succeeded, notified: t.notified, interruptedApart: t.interruptedOutcomes, byState: t.byState },
      waves, spec: r.spec, health: live?.health?.detail ?? null, events: this.store.events(id, 20),
    };
  }

  /**
   * Every rollout with its counts. A rollout in memory counts from its index; one that is not (a
   * finished rollout after a restart: it no longer changes) has its devices read once, not on
   * every call (the dashboard's rollouts page asks at each refresh).
   */
  list(): Record<string, unknown>[] {
    return this.store.loadRollouts().map(({ rollout: r, createdAt }) => {
      const live = this.live.get(r.id);
      const t = live ? live.devices.tally() : this.finishedTally(r.id);
      return { id: r.id, status: (live?.rollout ?? r).status, version: r.spec.version, target: r.spec.target, createdAt, wave: (live?.rollout ?? r).wave, total: t.total, succeeded: t.succeeded, failures: t.failures, halt: (live?.rollout ?? r).haltRule };
    });
  }

  private finishedTally(id: string): Readonly<Tally> {
    let t = this.finishedTallies.get(id);
    if (!t) this.finishedTallies.set(id, (t = tally(this.store.load(id)?.devices ?? [])));
    return t;
  }

  devices(id: string): DeviceState[] {
    const live = this.live.get(id);
    if (live) return [...live.devices.values()];
    const stored = this.store.load(id);
    if (!stored) throw new RolloutError(404, `no rollout "${id}"`);
    return stored.devices;
  }
}

/**
 * The rollout state machine: a pure step function (rollout, devices, input) → (rollout, changed
 * devices, effects), in the style of device/core/link/machine.ts. No I/O, no clock: time and
 * the facts about devices arrive in the input; the runner (runner.ts) persists the result in one
 * transaction and only then performs the effects (publish an offer, withdraw one). So a crash
 * between the two repeats an effect (an idempotent retained publish), never skips a state.
 *
 * Device states follow the LwM2M Object 5 statuses the devices send (docs/protocol/ota.md) and
 * AWS IoT Jobs' execution states.
 */
import { OtaResult, TrialCause, isRetryableCause } from "../../device/core/ota/codes";
import type { OtaStatus } from "../../device/core/ota/status";
import type { RolloutDevices } from "./device-index";
import { currentRate, type RolloutSpec } from "./spec";

export const RATE_WINDOW_MS = 60_000;
/**
 * Offers are spread over the minute, not sent in one burst at its start: at most
 * ceil(rate · SPREAD_WINDOW_MS / RATE_WINDOW_MS) in any SPREAD_WINDOW_MS (rate 20/min: 4 every
 * 10 s). AWS IoT Jobs' maximumPerMinute only caps the minute; spreading keeps that cap and lets a
 * bad version show itself on the first few devices before the rest of the minute's offers go out.
 */
export const SPREAD_WINDOW_MS = 10_000;
/**
 * A 105 with cause 6 (unknown) may be a power cut in the first moments of a good release's
 * trial (docs/protocol/ota.md): it is re-offered once, with the retry marker, when the rollout
 * runs and the release has succeeded on at least this many devices of the same stratum
 * (hardware and group labels) in this rollout.
 */
export const AMBIGUOUS_RETRY_MIN_SUCCEEDED = 2;

export type RolloutStatus = "running" | "paused" | "halted" | "cancelled" | "completed";

export type DeviceRolloutState =
  | "queued" // waiting for its wave, the rate, or (after a withdrawal) a resume
  | "deferred" // central precondition unmet when last looked at (offline, battery, busy), or the device said deferred (11)
  | "offered" // manifest published
  | "downloading" // the device reports progress (state 1..3)
  | "interrupted" // the trial was cut by power or network loss (109): the device retries itself
  | "succeeded"
  | "failed" // 2, 3, 4/8 after the retries, 5, 6, 108; or too many interrupted trials
  | "rolled-back" // 105: the trial failed (crash, watchdog, unhealthy; unknown once retried or not retryable)
  | "ambiguous" // 105 with cause 6 (unknown): counted apart, waiting for the retry rule
  | "retrying" // re-offered once with the retry marker after an ambiguous rejection (in flight)
  | "rejected" // 100..104, 106, 107: the device refused the offer (result code kept)
  | "timed-out"
  | "removed"; // cancelled

export const FINAL_STATES: ReadonlySet<DeviceRolloutState> = new Set(["succeeded", "failed", "rolled-back", "rejected", "timed-out", "removed"]);
const IN_FLIGHT: ReadonlySet<DeviceRolloutState> = new Set(["offered", "downloading", "interrupted", "retrying"]);

export interface RolloutState {
  id: string;
  spec: RolloutSpec;
  status: RolloutStatus;
  /** Current wave (0 = canary). */
  wave: number;
  /** Last device index (exclusive, by position) of each wave. */
  waveEnds: number[];
  waveStartedAt: number;
  /** When the current wave reached its success threshold (its soak started). */
  waveSucceededAt: number | null;
  haltRule: string | null;
  haltDetail: Record<string, unknown> | null;
  updatedAt: number;
  finishedAt: number | null;
}

export interface DeviceState {
  deviceId: string;
  position: number;
  wave: number;
  state: DeviceRolloutState;
  result: number | null;
  cause: number | null;
  fromVersion: number | null;
  offeredAt: number | null;
  offers: number;
  progressAt: number | null;
  updatedAt: number;
  retries: number;
  interrupted: number;
  detail: string | null;
  rollbackAt: number | null;
  rollbackResult: number | null;
}

/** What the registry knows about a device now (the central preconditions). */
export interface DeviceFacts {
  online: boolean;
  batteryPct: number | null;
  /** LwM2M /3 battery status: 1 charging, 2 charge complete count as powered. */
  batteryStatus: number | null;
  /** Busy: an OTA of another version in progress or a trial pending on the device. */
  busy: boolean;
  firmwareNum: number | null;
  /** Hardware and group labels: the stratum the ambiguous-rejection retry rule compares within. */
  stratum?: string;
}

export interface HealthVerdict {
  /** The metric that is worse, or null. */
  worse: string | null;
  /** The numbers behind it (both cohorts, the test). */
  detail: Record<string, unknown>;
}

export type RolloutInput =
  | { type: "tick"; now: number; facts: (deviceId: string) => DeviceFacts | undefined; health?: HealthVerdict }
  | { type: "status"; now: number; deviceId: string; status: OtaStatus }
  | { type: "command"; now: number; command: "pause" | "resume" | "cancel" };

export type RolloutEffect =
  | { type: "offer"; deviceId: string }
  | { type: "withdraw"; deviceId: string }
  | { type: "offer-rollback"; deviceId: string }
  /** The rollout's offer with the retry marker (envelope key 4): lifts a cause-6 rejection once. */
  | { type: "offer-retry"; deviceId: string }
  | { type: "event"; kind: string; detail: Record<string, unknown> };

export interface StepResult {
  rollout: RolloutState;
  changed: DeviceState[];
  effects: RolloutEffect[];
}

/** Outcome counts over a rollout's devices. */
export interface Tally {
  total: number;
  byState: Record<string, number>;
  /** failed + rolled back (not by power/network) + timed out. */
  failures: number;
  /** Devices with a final outcome other than removed. */
  executed: number;
  /** Rollbacks and failures caused by power or network loss: counted apart. */
  interruptedOutcomes: number;
  succeeded: number;
  notified: number;
  /** Ambiguous rejections (105 cause 6) waiting for, or in, their one retry: neither failures nor executed. */
  ambiguous: number;
}

export function emptyTally(): Tally {
  return { total: 0, byState: {}, failures: 0, executed: 0, interruptedOutcomes: 0, succeeded: 0, notified: 0, ambiguous: 0 };
}

/** Adds (sign 1) or removes (sign -1) one device's part of the counts. */
export function countDevice(t: Tally, d: DeviceState, sign: 1 | -1): void {
  t.total += sign;
  const n = (t.byState[d.state] ?? 0) + sign;
  if (n === 0) delete t.byState[d.state];
  else t.byState[d.state] = n;
  if (d.offers > 0) t.notified += sign;
  if (d.state === "succeeded") t.succeeded += sign;
  if (d.state === "ambiguous" || d.state === "retrying") t.ambiguous += sign;
  const cutByPowerOrNetwork = d.cause !== null && isRetryableCause(d.cause);
  if ((d.state === "rolled-back" || d.state === "failed") && cutByPowerOrNetwork) t.interruptedOutcomes += sign;
  else if (d.state === "failed" || d.state === "rolled-back" || d.state === "timed-out") t.failures += sign;
  if (FINAL_STATES.has(d.state) && d.state !== "removed" && !((d.state === "rolled-back" || d.state === "failed") && cutByPowerOrNetwork)) t.executed += sign;
}

export function tally(devices: Iterable<DeviceState>): Tally {
  const t = emptyTally();
  for (const d of devices) countDevice(t, d, 1);
  return t;
}

/** What the wave rules count of one wave. */
export interface WaveCounts {
  devices: number;
  succeeded: number;
  /** Not offered yet: queued, or deferred before any offer. */
  waiting: number;
  final: number;
}

export function emptyWaveCounts(): WaveCounts {
  return { devices: 0, succeeded: 0, waiting: 0, final: 0 };
}

export function countInWave(w: WaveCounts, d: DeviceState, sign: 1 | -1): void {
  w.devices += sign;
  if (d.state === "succeeded") w.succeeded += sign;
  if ((d.state === "deferred" && d.offers === 0) || d.state === "queued") w.waiting += sign;
  if (FINAL_STATES.has(d.state)) w.final += sign;
}

/** The counts as they are once `changed` is applied. */
function tallyWith(devices: RolloutDevices, changed: ReadonlyMap<string, DeviceState>): Tally {
  const base = devices.tally();
  const t = { ...base, byState: { ...base.byState } };
  for (const d of changed.values()) {
    countDevice(t, devices.get(d.deviceId)!, -1);
    countDevice(t, d, 1);
  }
  return t;
}

function waveWith(devices: RolloutDevices, wave: number, changed: ReadonlyMap<string, DeviceState>): WaveCounts {
  const w = { ...devices.wave(wave) };
  for (const d of changed.values()) {
    if (d.wave !== wave) continue;
    countInWave(w, devices.get(d.deviceId)!, -1);
    countInWave(w, d, 1);
  }
  return w;
}

const byPosition = (a: DeviceState, b: DeviceState) => a.position - b.position;

/** The devices in `state` once `changed` is applied, in position order. */
function inStateWith(devices: RolloutDevices, state: DeviceRolloutState, changed: ReadonlyMap<string, DeviceState>): DeviceState[] {
  const out: DeviceState[] = [];
  for (const d of devices.inState(state)) if (!changed.has(d.deviceId)) out.push(d);
  for (const d of changed.values()) if (d.state === state) out.push(d);
  return out.sort(byPosition);
}

const openCount = (t: Tally) => t.total - Object.entries(t.byState).filter(([s]) => FINAL_STATES.has(s as DeviceRolloutState)).reduce((n, [, c]) => n + c, 0);

/** Wave boundaries over `total` devices ordered by position: the canary, then the cumulative %. */
export function waveEnds(total: number, canary: number, waves: number[]): number[] {
  const ends = [Math.min(total, canary)];
  for (const pct of waves) ends.push(Math.max(ends[ends.length - 1], Math.min(total, Math.ceil((pct * total) / 100))));
  return ends;
}

function change(d: DeviceState, now: number, patch: Partial<DeviceState>): DeviceState {
  return { ...d, ...patch, updatedAt: now };
}

/** Why a device may not be offered now, or null. */
export function precondition(spec: RolloutSpec, f: DeviceFacts | undefined): string | null {
  if (!f) return "unknown device";
  if (!f.online) return "offline";
  const powered = f.batteryStatus === 1 || f.batteryStatus === 2;
  if (!powered && (f.batteryPct === null || f.batteryPct < spec.minBatteryPct)) return `battery ${f.batteryPct ?? "unknown"}% < ${spec.minBatteryPct}%`;
  if (f.busy) return "busy";
  return null;
}

export function step(r: RolloutState, devices: RolloutDevices, input: RolloutInput): StepResult {
  switch (input.type) {
    case "status":
      return onStatus(r, devices, input.deviceId, input.status, input.now);
    case "command":
      return onCommand(r, devices, input.command, input.now);
    case "tick":
      return onTick(r, devices, input);
  }
}

// ---------------------------------------------------------------- device statuses
function onStatus(r: RolloutState, devices: ReadonlyMap<string, DeviceState>, id: string, s: OtaStatus, now: number): StepResult {
  const out: StepResult = { rollout: r, changed: [], effects: [] };
  const d = devices.get(id);
  if (!d) return out;
  const target = r.spec.version;
  // A rollback offer's outcome (after a halt with --rollback-on-halt).
  if (r.spec.rollbackVersion !== undefined && s.version === r.spec.rollbackVersion && d.rollbackAt !== null) {
    if (s.state === 0 && s.result !== 0 && s.result !== 11) out.changed.push(change(d, now, { rollbackResult: s.result }));
    return out;
  }
  if (s.version !== target) {
    // Not about this offer. Only "already running the target" counts.
    if (s.running === target && !FINAL_STATES.has(d.state) && d.offers > 0) out.changed.push(change(d, now, { state: "succeeded", result: OtaResult.Success }));
    return out;
  }
  if (FINAL_STATES.has(d.state) && d.state !== "timed-out") return out;
  if (d.offers === 0 && !(s.result === OtaResult.Success && s.running === target)) return out; // a stale retained status
  const r0 = s.result;
  let next: Partial<DeviceState> | undefined;
  if (r0 === OtaResult.Success && s.running === target) next = { state: "succeeded", result: r0, detail: null };
  else if (s.state !== 0 && (r0 === OtaResult.Initial || r0 === OtaResult.Success)) next = { state: "downloading", progressAt: now };
  else if (r0 === OtaResult.Deferred) next = { state: "deferred", result: r0, detail: s.detail ?? "deferred by the device", progressAt: now };
  else if (r0 === OtaResult.TrialInterrupted) {
    const interrupted = d.interrupted + 1;
    next =
      interrupted > r.spec.maxInterrupted
        ? { state: "failed", result: r0, cause: s.cause ?? TrialCause.PowerLoss, interrupted, detail: `${interrupted} interrupted trials` }
        : { state: "interrupted", result: r0, cause: s.cause ?? null, interrupted, progressAt: now };
  } else if (r0 === OtaResult.RolledBack) {
    // The first cause-6 rejection is counted apart; after the one retry it is final.
    const ambiguous = s.cause === TrialCause.Unknown && d.state !== "retrying";
    next = { state: ambiguous ? "ambiguous" : "rolled-back", result: r0, cause: s.cause ?? null, detail: s.detail ?? null };
  }
  else if (r0 === OtaResult.ConnectionLost || r0 === OtaResult.UpdateFailed) {
    next =
      d.retries < r.spec.maxRetries
        ? { state: "queued", result: r0, retries: d.retries + 1, detail: `retry ${d.retries + 1} after result ${r0}` }
        : { state: "failed", result: r0, detail: s.detail ?? null };
  } else if (r0 === OtaResult.Cancelled) {
    if (d.state === "removed" || d.state === "queued") return out; // our own withdrawal
    next = { state: "queued", result: r0, detail: "cancelled on the device" };
  } else if (r0 >= 100 && r0 !== OtaResult.RolledBack && r0 !== OtaResult.RollbackFailed && r0 !== OtaResult.TrialInterrupted) {
    next = { state: "rejected", result: r0, detail: s.detail ?? null };
  } else if (r0 !== OtaResult.Initial) next = { state: "failed", result: r0, detail: s.detail ?? null };
  if (!next) return out;
  // A retry in progress stays a retry (its offer carries the marker) until its outcome is final.
  if (d.state === "retrying" && (next.state === "downloading" || next.state === "deferred" || next.state === "interrupted")) next = { ...next, state: "retrying" };
  if (next.state === d.state && next.result === d.result && next.interrupted === undefined) {
    if (next.progressAt !== undefined) out.changed.push(change(d, now, { progressAt: now }));
    return out;
  }
  out.changed.push(change(d, now, next));
  return out;
}

// ---------------------------------------------------------------- operator commands
function withdrawAll(r: RolloutState, devices: ReadonlyMap<string, DeviceState>, now: number, to: DeviceRolloutState, out: StepResult): void {
  for (const d of devices.values()) {
    if (IN_FLIGHT.has(d.state) || (d.state === "deferred" && d.offers > 0 && d.result === OtaResult.Deferred)) {
      out.changed.push(change(d, now, { state: to, detail: to === "removed" ? "cancelled" : "offer withdrawn" }));
      out.effects.push({ type: "withdraw", deviceId: d.deviceId });
    } else if (to === "removed" && (d.state === "queued" || d.state === "deferred")) {
      out.changed.push(change(d, now, { state: "removed", detail: "cancelled" }));
    }
  }
}

function onCommand(r: RolloutState, devices: ReadonlyMap<string, DeviceState>, command: "pause" | "resume" | "cancel", now: number): StepResult {
  const out: StepResult = { rollout: r, changed: [], effects: [] };
  const live = r.status === "running" || r.status === "paused" || r.status === "halted";
  if (!live) return out;
  if (command === "pause" && r.status === "running") {
    out.rollout = { ...r, status: "paused", updatedAt: now };
  } else if (command === "resume" && r.status !== "running") {
    // Resuming a halted rollout is the operator's call; the halt stays on record in the events.
    out.rollout = { ...r, status: "running", haltRule: null, haltDetail: null, updatedAt: now, waveSucceededAt: null, waveStartedAt: now };
  } else if (command === "cancel") {
    out.rollout = { ...r, status: "cancelled", updatedAt: now, finishedAt: now };
    withdrawAll(r, devices, now, "removed", out);
  } else return out;
  out.effects.push({ type: "event", kind: command, detail: {} });
  return out;
}

// ---------------------------------------------------------------- time passes
function halt(r: RolloutState, devices: ReadonlyMap<string, DeviceState>, now: number, rule: string, detail: Record<string, unknown>, out: StepResult): void {
  out.rollout = { ...out.rollout, status: "halted", haltRule: rule, haltDetail: detail, updatedAt: now };
  withdrawAll(r, devices, now, "queued", out);
  out.effects.push({ type: "event", kind: "halted", detail: { rule, ...detail } });
  if (r.spec.rollbackBundle !== undefined) {
    for (const d of devices.values()) {
      if (d.state === "succeeded" && d.rollbackAt === null) {
        out.changed.push(change(d, now, { rollbackAt: now }));
        out.effects.push({ type: "offer-rollback", deviceId: d.deviceId });
      }
    }
  }
}

function onTick(r: RolloutState, devices: RolloutDevices, input: Extract<RolloutInput, { type: "tick" }>): StepResult {
  const now = input.now;
  const out: StepResult = { rollout: r, changed: [], effects: [] };
  if (r.status !== "running") return out;
  const spec = r.spec;
  const changed = new Map<string, DeviceState>();
  const cur = (d: DeviceState) => changed.get(d.deviceId) ?? d;

  // In-progress timeout, from the last sign of progress.
  const late: DeviceState[] = [];
  for (const state of IN_FLIGHT) {
    for (const d of devices.inState(state)) if (now - (d.progressAt ?? d.offeredAt ?? now) >= spec.timeoutMs) late.push(d);
  }
  for (const d of late.sort(byPosition)) {
    changed.set(d.deviceId, change(d, now, { state: "timed-out", detail: `no final status within ${spec.timeoutMs / 60_000} min` }));
    out.effects.push({ type: "withdraw", deviceId: d.deviceId });
  }

  // Halt rule (a): failures over the threshold of enough executed devices.
  const t = tallyWith(devices, changed);
  if (t.executed >= spec.minExecuted && t.failures * 100 > spec.maxFailurePct * t.executed) {
    out.changed.push(...changed.values());
    const merged = new Map(devices);
    for (const d of changed.values()) merged.set(d.deviceId, d);
    halt(r, merged, now, "failure-rate", {
      failures: t.failures, executed: t.executed, failurePct: Math.round((t.failures * 10000) / t.executed) / 100,
      maxFailurePct: spec.maxFailurePct, minExecuted: spec.minExecuted, interruptedApart: t.interruptedOutcomes, ambiguousApart: t.ambiguous, byState: t.byState,
    }, out);
    return dedupe(out);
  }
  // Halt rule (b): the new version is worse than the old one.
  if (input.health?.worse) {
    out.changed.push(...changed.values());
    const merged = new Map(devices);
    for (const d of changed.values()) merged.set(d.deviceId, d);
    halt(r, merged, now, `worse-${input.health.worse}`, input.health.detail, out);
    return dedupe(out);
  }

  // Waves: the current one must reach its success threshold, then soak.
  let rollout = r;
  const w = waveWith(devices, r.wave, changed);
  const offeredInWave = w.devices - w.waiting;
  const reached = w.devices === 0 || (offeredInWave > 0 && w.succeeded * 100 >= spec.successThresholdPct * offeredInWave && w.succeeded > 0);
  if (rollout.waveSucceededAt === null && !reached && offeredInWave > 0 && w.final === offeredInWave && w.waiting === 0) {
    // Every device of the wave has its outcome and too few succeeded: the next wave can never start.
    out.changed.push(...changed.values());
    halt(r, devices, now, "wave-success-threshold", {
      wave: r.wave, devices: w.devices, succeeded: w.succeeded, successPct: Math.round((w.succeeded * 10000) / offeredInWave) / 100,
      successThresholdPct: spec.successThresholdPct,
    }, out);
    return dedupe(out);
  }
  if (rollout.waveSucceededAt === null && reached) {
    rollout = { ...rollout, waveSucceededAt: now, updatedAt: now };
    out.effects.push({ type: "event", kind: "wave-succeeded", detail: { wave: r.wave, devices: w.devices, succeeded: w.succeeded } });
  }
  if (rollout.waveSucceededAt !== null && now - rollout.waveSucceededAt >= spec.soakMs && rollout.wave < rollout.waveEnds.length - 1) {
    rollout = { ...rollout, wave: rollout.wave + 1, waveStartedAt: now, waveSucceededAt: null, updatedAt: now };
    out.effects.push({ type: "event", kind: "wave-started", detail: { wave: rollout.wave, upTo: rollout.waveEnds[rollout.wave] } });
  }

  // Offers: devices of the waves started so far, in position order, at the rate.
  const recent = devices.offeredAfter(now - RATE_WINDOW_MS);
  const recentSpread = devices.offeredAfter(now - SPREAD_WINDOW_MS);
  const rate = currentRate(spec, t.notified, t.succeeded);
  const perSpread = Math.ceil((rate * SPREAD_WINDOW_MS) / RATE_WINDOW_MS);
  let budget = Math.max(0, Math.min(Math.floor(rate) - recent, perSpread - recentSpread));
  if (rate < 1 && recent === 0) budget = 1; // below 1/min: one offer per window
  budget = retryAmbiguous(spec, devices, changed, input.facts, now, budget, out);
  // Only as far down the line as the budget reaches: a device further down keeps its state
  // (queued, or deferred with the reason seen last) until the line reaches it.
  for (const waiting of devices.waiting()) {
    if (budget <= 0) break;
    const d = cur(waiting);
    if (d.wave > rollout.wave) break;
    if (d.state !== "queued" && !(d.state === "deferred" && d.result !== OtaResult.Deferred)) continue;
    const why = precondition(spec, input.facts(d.deviceId));
    if (why !== null) {
      if (d.state !== "deferred" || d.detail !== why) changed.set(d.deviceId, change(d, now, { state: "deferred", detail: why, result: null }));
      continue;
    }
    budget--;
    changed.set(d.deviceId, change(d, now, { state: "offered", offeredAt: now, progressAt: now, offers: d.offers + 1, detail: null, result: null }));
    out.effects.push({ type: "offer", deviceId: d.deviceId });
  }

  // Done when every device has a final state; an ambiguous rejection that the rule can no longer
  // lift (no other device is still open) becomes final.
  const afterOffers = tallyWith(devices, changed);
  const open = openCount(afterOffers);
  if (rollout.wave === rollout.waveEnds.length - 1 && open > 0 && open === (afterOffers.byState.ambiguous ?? 0)) {
    const stillOpen = inStateWith(devices, "ambiguous", changed);
    const lifted = strataWithEnoughSuccesses(devices, changed, new Set(stillOpen.map((d) => stratumOf(input.facts(d.deviceId)))), input.facts);
    for (const d of stillOpen) {
      if (lifted.has(stratumOf(input.facts(d.deviceId)))) continue; // waits for its preconditions
      changed.set(d.deviceId, change(d, now, { state: "rolled-back", detail: `ambiguous rejection not retried: fewer than ${AMBIGUOUS_RETRY_MIN_SUCCEEDED} successes in its stratum` }));
    }
  }
  const finalT = tallyWith(devices, changed);
  if (openCount(finalT) === 0 && rollout.wave === rollout.waveEnds.length - 1) {
    rollout = { ...rollout, status: "completed", finishedAt: now, updatedAt: now };
    out.effects.push({ type: "event", kind: "completed", detail: { byState: finalT.byState } });
  }
  out.rollout = rollout;
  out.changed.push(...changed.values());
  return out;
}

function stratumOf(f: DeviceFacts | undefined): string {
  return f?.stratum ?? "";
}

/**
 * Which of `strata` have at least AMBIGUOUS_RETRY_MIN_SUCCEEDED succeeded devices once `changed`
 * is applied. The index keeps the succeeded devices by stratum (the facts are a registry query per
 * device: asked once per device, not per tick); the devices this step changed are counted here.
 */
function strataWithEnoughSuccesses(
  devices: RolloutDevices, changed: ReadonlyMap<string, DeviceState>, strata: Set<string>, facts: (id: string) => DeviceFacts | undefined,
): Set<string> {
  const fresh = new Map<string, number>();
  for (const d of changed.values()) {
    if (d.state !== "succeeded") continue;
    const k = stratumOf(facts(d.deviceId));
    fresh.set(k, (fresh.get(k) ?? 0) + 1);
  }
  const enough = new Set<string>();
  for (const k of strata) {
    const need = AMBIGUOUS_RETRY_MIN_SUCCEEDED - (fresh.get(k) ?? 0);
    if (need <= 0 || devices.succeededIn(k, need, (id) => stratumOf(facts(id)), changed) >= need) enough.add(k);
  }
  return enough;
}

/** Re-offers ambiguous rejections whose stratum has enough successes (first, within the rate budget); returns the budget left. */
function retryAmbiguous(
  spec: RolloutSpec, devices: RolloutDevices, changed: Map<string, DeviceState>, facts: (id: string) => DeviceFacts | undefined, now: number, budget: number,
  out: StepResult,
): number {
  const waiting = inStateWith(devices, "ambiguous", changed);
  if (waiting.length === 0) return budget;
  const lifted = strataWithEnoughSuccesses(devices, changed, new Set(waiting.map((d) => stratumOf(facts(d.deviceId)))), facts);
  for (const d of waiting) {
    if (budget <= 0) break;
    const f = facts(d.deviceId);
    if (!lifted.has(stratumOf(f)) || precondition(spec, f) !== null) continue;
    budget--;
    changed.set(d.deviceId, change(d, now, { state: "retrying", offeredAt: now, progressAt: now, offers: d.offers + 1, result: null, detail: "ambiguous rejection (cause 6): offered again with the retry marker" }));
    out.effects.push({ type: "offer-retry", deviceId: d.deviceId });
  }
  return budget;
}

/** Keeps the last change per device (halt may change a device changed earlier in the step). */
function dedupe(out: StepResult): StepResult {
  const m = new Map<string, DeviceState>();
  for (const d of out.changed) m.set(d.deviceId, d);
  return { ...out, changed: [...m.values()] };
}

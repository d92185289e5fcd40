/**
 * The OTA state machine as plain data and one transition function (the style of
 * device/core/link/machine.ts): step(model, input) -> { model, effects, op? }.
 *
 * Effects are fire-and-forget (status, block wants, timers, log, restart). An op is a port
 * operation whose outcome matters (check an offer, scan/write/verify the slot, NVS records,
 * boot control); the runner (updater.ts) performs it and feeds its outcome back as the next
 * input, a port failure included ({ type: "failed" }): one error policy, decided here.
 *
 *   idle --offer ok--> downloading --last block--> (verify, stage, setPending) --> restarting
 *   idle/downloading --offer deferred, preconditions unmet--> deferred --timer--> idle (offer again)
 *   boot on a pending-verify slot --> trial --healthy--> idle (confirmed) | --timeout--> restarting (rollback)
 *   restarting: every input is ignored (a restart was requested; nothing may stage or boot twice)
 */
import { bytesEqual } from "./bytes";
import { isRetryableCause, OtaResult, OtaState, TrialCause, type OtaStateCode, type TrialCauseCode } from "./codes";
import { blockCount, blockLength, parseEnvelope, parseManifest } from "./manifest";
import type { BootFacts, OtaEffect, OtaInput, OtaModel, OtaOp, OtaPolicy, Parked, StepResult, TimerKind, TrialRun } from "./machine-types";
import type { OtaStatus } from "./status";
import { Stage, type AttemptRecord } from "./store";
import { judgeTrial } from "./trial-outcome";

export * from "./machine-types";

const NO_OFFER = new Uint8Array(0);

/** The transition function. Pure: the model passed in is never changed. */
export function step(m0: OtaModel, input: OtaInput, p: OtaPolicy): StepResult {
  const s = new Stepper(m0, p);
  s.on(input);
  return { model: s.m, effects: s.effects, op: s.op };
}

class Stepper {
  m: OtaModel;
  readonly effects: OtaEffect[] = [];
  op: OtaOp | undefined;

  constructor(
    m0: OtaModel,
    private readonly p: OtaPolicy,
  ) {
    this.m = { ...m0 };
  }

  on(i: OtaInput): void {
    if (this.m.mode === "restarting") return; // a restart is under way: nothing else may happen
    switch (i.type) {
      case "boot":
        return this.boot(i.facts);
      case "offer":
        return this.offer(i.bytes, i.offer);
      case "offer-checked":
        return this.offerChecked(i);
      case "block":
        return this.block(i.index, i.bytes, i.blocked);
      case "resume":
        return this.resume();
      case "connected":
        this.m.connected = true;
        if (this.m.trial) this.m.trial = { ...this.m.trial, connected: true };
        return this.checkHealth();
      case "disconnected":
        this.m.connected = false;
        if (this.m.trial) this.m.trial = { ...this.m.trial, connected: false };
        return;
      case "telemetry-acked":
        if (this.m.trial) this.m.trial = { ...this.m.trial, acked: true };
        return this.checkHealth();
      case "timer":
        return this.timer(i.kind);
      case "scanned":
        return this.scanned(i.have);
      case "block-stored":
        return this.blockStored(i.index);
      case "block-bad":
        return this.blockBad(i.index, i.length);
      case "image-ok":
        return this.imageOk();
      case "image-bad":
        return this.imageBad(i.result, i.detail);
      case "done":
        return this.done(i.op);
      case "failed":
        return this.failed(i);
    }
  }

  // ---------------------------------------------------------------- boot

  private boot(f: BootFacts): void {
    if (this.m.mode !== "starting") return;
    const m = this.m;
    m.mode = "idle";
    m.runningSlot = f.runningSlot;
    m.rollback = f.rollback;
    m.attempt = f.attempt;
    const r = f.runningRecord;
    if (r && r.slot === f.runningSlot && r.codeVersion === this.p.codeVersion) m.running = r.version;
    if (!f.rollback) this.report(OtaState.Idle, OtaResult.RollbackUnavailable, { detail: "bootloader without rollback support" });
    const a = f.attempt;
    if (a && a.slot === f.runningSlot) {
      m.running = a.version; // what was verified and installed in this slot
      // On trial: pending-verify; with rollback support, any state but valid is checked the same
      // way (a torn ESP-IDF rewrite can leave a state no bootloader rule acts on), and so is a
      // valid state this image never asked for (markValid comes only after the confirming note).
      if (f.runningState === "pending-verify" || (f.rollback && (f.runningState !== "valid" || a.stage !== Stage.Confirming))) {
        if (a.stage === Stage.Unhealthy || f.attemptRejected) return this.rollBack(a, "health check failed on an earlier boot of this trial");
        return this.beginTrial(a);
      }
      // Confirmed before a reboot cut the bookkeeping short (or no rollback support: nothing to confirm).
      return this.confirm(a);
    }
    if (a && a.stage !== Stage.Interrupted) {
      const v = judgeTrial({ stage: a.stage, slotState: f.attemptSlotState ?? "undefined", seqRose: f.recordSeq > a.seqBefore, reset: f.reset });
      if (f.attemptRejected) {
        // Rejected already (by the trial itself, or before a cut kept the record): say so again, then drop the record.
        // The cause kept with the rejection, when there is one: a re-judged trial after a cut may read "unknown" where it was a crash.
        const kept = keptCause(f.attemptRejectedCause);
        const cause = kept ?? (v.kind === "ended" ? v.cause : TrialCause.Unknown);
        this.report(OtaState.Idle, OtaResult.RolledBack, { version: a.version, offer: offerOf(a), attempt: a.attempts, cause, detail: `trial failed; back on slot ${f.runningSlot}` });
        this.op = { type: "clear-attempt" };
        return;
      }
      if (v.kind === "ended") return this.trialEnded(a, v.cause);
      // Not applied: the next offer resumes it; this install does not count.
      if (a.attempts > 1) return this.saveAttempt({ ...a, stage: Stage.Interrupted, attempts: a.attempts - 1 });
      return this.clearAttempt();
    }
    if (a && f.attemptRejected) return this.clearAttempt(); // an interrupted version rejected since
    if (a) m.hold = { version: a.version, ms: this.backoff(a.attempts) };
    if (!a && f.runningState === "pending-verify") {
      // A trial with no attempt record (NVS wiped): check it all the same.
      return this.beginTrial({ version: m.running, slot: f.runningSlot, securityCounter: 0, seqBefore: f.recordSeq, stage: Stage.Trial, attempts: 1, offer: NO_OFFER }, false);
    }
    if (f.rollback) this.report(OtaState.Idle, OtaResult.Initial);
  }

  /** The old image runs again after a trial of `a` that ended by `cause`. */
  private trialEnded(a: AttemptRecord, cause: TrialCauseCode): void {
    const extra = { version: a.version, offer: offerOf(a), attempt: a.attempts, cause };
    if (isRetryableCause(cause) && a.attempts < this.p.maxTrials) {
      const ms = this.backoff(a.attempts);
      this.m.hold = { version: a.version, ms };
      this.report(OtaState.Idle, OtaResult.TrialInterrupted, { ...extra, detail: `trial ${a.attempts} of ${this.p.maxTrials} interrupted; retry in ${ms} ms` });
      return this.saveAttempt({ ...a, stage: Stage.Interrupted });
    }
    const why = isRetryableCause(cause) ? `trial interrupted ${a.attempts} times` : "trial failed";
    this.report(OtaState.Idle, OtaResult.RolledBack, { ...extra, detail: `${why}; back on slot ${this.m.runningSlot}` });
    this.op = { type: "reject", version: a.version, running: this.m.running, cause };
  }

  private backoff(attempts: number): number {
    return this.p.retryBackoffMs * 2 ** Math.max(0, attempts - 1);
  }

  // ---------------------------------------------------------------- offers

  private offer(bytes: Uint8Array, offer: Uint8Array): void {
    const m = this.m;
    if (m.mode === "starting" || m.mode === "broken") return;
    if (bytes.length === 0) return this.withdraw();
    if (m.mode === "trial") {
      m.parked = { bytes, offer };
      // The retained offer of the image on trial itself is expected here: no need to report it.
      const v = unverifiedVersion(bytes);
      if (v === m.trial!.record.version) return;
      return this.report(OtaState.Updating, OtaResult.Deferred, { version: m.trial!.record.version, offer, detail: "trial pending: new offers wait until this image is confirmed" });
    }
    if (m.job && bytesEqual(m.job.envelope, bytes)) return this.resume(); // the same offer again (reconnect)
    this.op = { type: "check-offer", bytes, offer };
  }

  /** An empty retained manifest: the backend withdrew its offer. */
  private withdraw(): void {
    const m = this.m;
    const about = m.job ? { version: m.job.manifest.version, offer: m.job.offer } : m.parked ? { version: unverifiedVersion(m.parked.bytes), offer: m.parked.offer } : undefined;
    const hadWork = m.job !== undefined || m.mode === "deferred";
    m.parked = undefined;
    m.hold = undefined;
    if (!hadWork) return;
    this.abandon();
    this.report(OtaState.Idle, OtaResult.Cancelled, { ...about, detail: "offer withdrawn" });
  }

  private offerChecked(i: Extract<OtaInput, { type: "offer-checked" }>): void {
    const m = this.m;
    if (m.mode === "trial" || m.mode === "starting" || m.mode === "broken") return;
    const verdict = i.verdict;
    const offer = i.offer;
    if (!verdict.ok) {
      if (verdict.result === OtaResult.Deferred && !m.job) return this.defer({ bytes: i.bytes, offer }, verdict.detail, verdict.version, this.p.deferRetryMs);
      // A bad offer never disturbs a download in progress.
      return this.report(m.job ? OtaState.Downloading : OtaState.Idle, verdict.result, { version: verdict.version, offer, detail: verdict.detail });
    }
    const man = verdict.manifest;
    if (man.version === m.running) {
      if (!m.job) this.report(OtaState.Idle, OtaResult.Success, { version: man.version, offer, detail: "already running" });
      return;
    }
    if (!m.rollback && !this.p.allowWithoutRollback) {
      return this.report(OtaState.Idle, OtaResult.RollbackUnavailable, { version: man.version, offer, detail: "bootloader cannot roll back: update refused" });
    }
    if (i.blocked !== undefined) return this.defer({ bytes: i.bytes, offer }, i.blocked, man.version, this.p.deferRetryMs);
    if (m.hold) {
      const hold = m.hold;
      m.hold = undefined;
      if (hold.version === man.version) return this.defer({ bytes: i.bytes, offer }, `retry after an interrupted trial, in ${hold.ms} ms`, man.version, hold.ms);
    }
    this.abandon();
    m.parked = undefined;
    if (man.blockSize % i.eraseBlock !== 0) {
      return this.report(OtaState.Idle, OtaResult.UnsupportedPackage, { version: man.version, offer, detail: `block size ${man.blockSize} is not a multiple of the flash erase block ${i.eraseBlock}` });
    }
    const total = blockCount(man.length, man.blockSize);
    m.job = { manifest: man, envelope: i.bytes, offer, slot: i.slot, total, have: new Uint8Array(total), count: 0, inflight: [], bad: {}, stalls: 0 };
    m.mode = "downloading";
    if (verdict.lift) {
      // The fleet's marker lifts a cause-6 rejection: counted in NVS before a block is fetched.
      this.effects.push({ type: "log", level: "info", message: `ota: version ${man.version}: the fleet lifts its ambiguous rejection (once)` });
      this.op = { type: "lift-rejection", version: man.version };
      return;
    }
    // Resume: whatever already sits in the slot with the right hash is kept.
    this.op = { type: "scan", slot: i.slot, manifest: man };
  }

  private defer(parked: Parked, why: string, version: number | undefined, ms: number): void {
    this.abandon();
    this.m.mode = "deferred";
    this.m.parked = parked;
    this.report(OtaState.Idle, OtaResult.Deferred, { version, offer: parked.offer, detail: why });
    this.arm("defer", ms);
  }

  // ---------------------------------------------------------------- download

  private scanned(have: Uint8Array): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    let count = 0;
    for (let i = 0; i < job.total; i++) count += have[i] ? 1 : 0;
    this.m.job = { ...job, have: have.slice(0, job.total), count };
    this.progress();
    if (count === job.total) return this.finish();
    this.request();
  }

  private block(index: number, bytes: Uint8Array, blocked: string | undefined): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    if (!Number.isInteger(index) || index < 0 || index >= job.total || job.have[index]) return;
    if (blocked !== undefined) {
      // Preconditions hold for the whole download: pause it (the slot keeps what it has).
      return this.defer({ bytes: job.envelope, offer: job.offer }, blocked, job.manifest.version, this.p.deferRetryMs);
    }
    if (bytes.length !== blockLength(job.manifest, index)) return this.blockBad(index, bytes.length);
    this.op = { type: "store-block", slot: job.slot, manifest: job.manifest, index, bytes };
  }

  private blockBad(index: number, length: number): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    const n = (job.bad[index] ?? 0) + 1;
    this.m.job = { ...job, bad: { ...job.bad, [index]: n } };
    if (n >= this.p.maxBadBlock) {
      // Not remembered as rejected: stale or forged blocks on the broker say nothing about the
      // signed image, and anyone able to publish a block must not be able to veto a version.
      return this.fail(OtaResult.IntegrityFailure, `block ${index} failed its hash ${n} times (${length} bytes, want ${blockLength(job.manifest, index)})`);
    }
    // Not at once: a stale retained block would come straight back. The stall timer asks
    // again later, when the backend has had time to publish the right one.
    this.effects.push({ type: "release", blocks: [index] });
  }

  private blockStored(index: number): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job || job.have[index]) return;
    const have = job.have.slice();
    have[index] = 1;
    const count = job.count + 1;
    this.m.job = { ...job, have, count, inflight: job.inflight.filter((x) => x !== index), stalls: 0 };
    this.effects.push({ type: "release", blocks: [index] });
    if (count === job.total) return this.finish();
    if (count % this.p.progressEvery === 0) this.progress();
    this.request();
  }

  private resume(): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    this.m.job = { ...job, stalls: 0 };
    if (job.inflight.length > 0) this.effects.push({ type: "want", blocks: job.inflight.slice() });
    this.request();
  }

  private request(): void {
    const job = this.m.job!;
    const add: number[] = [];
    for (let i = 0; i < job.total && job.inflight.length + add.length < this.p.window; i++) {
      if (!job.have[i] && !job.inflight.includes(i)) add.push(i);
    }
    if (add.length > 0) {
      this.m.job = { ...job, inflight: [...job.inflight, ...add] };
      this.effects.push({ type: "want", blocks: add });
    }
    this.arm("stall", this.p.stallTimeoutMs);
  }

  private finish(): void {
    const job = this.m.job!;
    this.disarm();
    this.report(OtaState.Downloaded, OtaResult.Initial, { version: job.manifest.version, offer: job.offer, received: job.total, total: job.total });
    this.op = { type: "verify-image", slot: job.slot, manifest: job.manifest };
  }

  private imageBad(result: number, detail: string): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    const version = job.manifest.version;
    this.fail(result, detail);
    // A signed image that fails its own checks is not worth fetching again.
    this.op = { type: "reject", version, running: this.m.running };
  }

  private imageOk(): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    const man = job.manifest;
    this.report(OtaState.Updating, OtaResult.Initial, { version: man.version, offer: job.offer });
    const prev = this.m.attempt;
    const attempts = prev && prev.version === man.version ? prev.attempts + 1 : 1;
    // The attempt record first: after any reboot, the old image can tell whether a trial ran.
    this.op = {
      type: "save-attempt",
      record: { version: man.version, slot: job.slot, securityCounter: man.securityCounter, seqBefore: -1, stage: Stage.Staged, attempts, offer: job.offer },
    };
  }

  private fail(result: number, detail: string): void {
    const job = this.m.job;
    this.abandon();
    this.report(OtaState.Idle, result, { version: job?.manifest.version, offer: job?.offer, detail });
  }

  /** Drops the current download (its blocks in the slot stay, for a later resume). */
  private abandon(): void {
    const m = this.m;
    this.disarm();
    if (m.job && m.job.inflight.length > 0) this.effects.push({ type: "release", blocks: m.job.inflight.slice() });
    m.job = undefined;
    if (m.mode === "downloading" || m.mode === "deferred") m.mode = "idle";
  }

  // ---------------------------------------------------------------- trial boot

  private beginTrial(a: AttemptRecord, save = true): void {
    const m = this.m;
    m.mode = "trial";
    m.trial = { record: { ...a, stage: Stage.Trial }, connected: m.connected, acked: false };
    this.report(OtaState.Updating, OtaResult.Initial, { version: a.version, offer: offerOf(a), attempt: a.attempts, detail: "trial boot: health check running" });
    this.arm("health", this.p.healthTimeoutMs);
    // Noted before anything else can happen: from now on a reset ends a trial that ran.
    if (save && a.stage !== Stage.Trial) this.op = { type: "save-attempt", record: m.trial.record };
  }

  private checkHealth(): void {
    const t = this.m.trial;
    if (this.m.mode !== "trial" || !t || t.cause !== undefined || !t.connected || !t.acked) return;
    this.disarm();
    // Noted first: a reset inside markValid's in-place rewrite then reads as power loss, not as
    // a crash whose abort was cut (trial-outcome.ts).
    if (t.record.stage === Stage.Confirming) this.op = { type: "mark-valid" };
    else this.saveAttempt({ ...t.record, stage: Stage.Confirming });
  }

  private confirm(a: AttemptRecord): void {
    this.m.mode = "idle";
    this.m.running = a.version;
    this.op = { type: "confirm-records", running: { slot: this.m.runningSlot, version: a.version, codeVersion: this.p.codeVersion }, counter: a.securityCounter };
  }

  private confirmed(a: AttemptRecord): void {
    const m = this.m;
    m.trial = undefined;
    m.attempt = undefined;
    this.report(OtaState.Idle, OtaResult.Success, { version: a.version, offer: offerOf(a), attempt: a.attempts, detail: "image confirmed" });
    const again = m.parked;
    m.parked = undefined;
    if (again) this.op = { type: "check-offer", bytes: again.bytes, offer: again.offer };
  }

  private healthTimeout(): void {
    const t = this.m.trial;
    if (this.m.mode !== "trial" || !t) return;
    // The decision goes to NVS first, in one write; only then is it reported and acted on, so a
    // power cut never leaves a reported decision that the old image cannot read back.
    const cause = t.connected ? TrialCause.Unhealthy : TrialCause.Network;
    this.m.trial = { ...t, cause };
    this.op = { type: "save-attempt", record: { ...t.record, stage: cause === TrialCause.Unhealthy ? Stage.Unhealthy : Stage.Network } };
  }

  /** The trial's failed health check is recorded: report it, then reject (unhealthy) and roll back. */
  private healthFailed(t: TrialRun): void {
    const a = t.record;
    const ms = this.p.healthTimeoutMs;
    const about = { version: a.version, offer: offerOf(a), attempt: a.attempts, cause: t.cause };
    if (t.cause === TrialCause.Unhealthy) {
      this.report(OtaState.Idle, OtaResult.RolledBack, { ...about, detail: `health check not passed within ${ms} ms while connected (telemetry acked: ${t.acked})` });
      this.op = { type: "reject", version: a.version, running: this.m.running, cause: t.cause };
      return;
    }
    this.report(OtaState.Idle, OtaResult.TrialInterrupted, { ...about, detail: `broker not reachable within ${ms} ms: rolling back, retryable` });
    this.op = { type: "rollback" };
  }

  private rollBack(a: AttemptRecord, why: string): void {
    this.m.mode = "trial";
    this.m.trial = { record: a, connected: this.m.connected, acked: false, cause: TrialCause.Unhealthy };
    this.effects.push({ type: "log", level: "warn", message: `ota: rolling back version ${a.version}: ${why}` });
    this.op = { type: "rollback" };
  }

  // ---------------------------------------------------------------- timers

  private timer(kind: TimerKind): void {
    const m = this.m;
    if (m.timer !== kind) return; // stale
    m.timer = undefined;
    switch (kind) {
      case "stall":
        return this.stall();
      case "defer": {
        if (m.mode !== "deferred") return;
        const again = m.parked;
        m.parked = undefined;
        m.mode = "idle";
        if (again) this.op = { type: "check-offer", bytes: again.bytes, offer: again.offer };
        return;
      }
      case "health":
        return this.healthTimeout();
      case "retry-valid":
        this.checkHealth();
        // No longer healthy (the link dropped meanwhile): the health check runs on, timed again.
        if (!this.op && m.mode === "trial") this.arm("health", this.p.healthTimeoutMs);
        return;
      case "retry-rollback":
        if (m.mode === "trial") this.op = { type: "rollback" };
        return;
    }
  }

  private stall(): void {
    const job = this.m.job;
    if (this.m.mode !== "downloading" || !job) return;
    const stalls = job.stalls + 1;
    this.m.job = { ...job, stalls };
    if (stalls > this.p.maxStalls) {
      return this.fail(OtaResult.ConnectionLost, `download stalled: block(s) ${job.inflight.slice(0, 8).join(",")} never arrived`);
    }
    if (job.inflight.length > 0) this.effects.push({ type: "want", blocks: job.inflight.slice() });
    this.arm("stall", this.p.stallTimeoutMs);
  }

  // ---------------------------------------------------------------- op outcomes

  private done(op: OtaOp): void {
    const m = this.m;
    switch (op.type) {
      case "save-attempt":
        m.attempt = op.record;
        return this.afterSave(op.record);
      case "set-pending":
        // Noted before the restart: from now on, a lost boot record means a torn bootloader write.
        if (m.attempt) this.op = { type: "save-attempt", record: { ...m.attempt, stage: Stage.Pending } };
        else this.restart();
        return;
      case "mark-valid":
        if (m.mode === "trial" && m.trial) return this.confirm(m.trial.record);
        return;
      case "confirm-records":
        return this.confirmed(m.trial?.record ?? m.attempt ?? { version: op.running.version, slot: op.running.slot, securityCounter: op.counter, seqBefore: 0, stage: Stage.Trial, attempts: 1, offer: NO_OFFER });
      case "reject":
        return this.afterReject(op.version);
      case "lift-rejection":
        if (m.mode === "downloading" && m.job) this.op = { type: "scan", slot: m.job.slot, manifest: m.job.manifest };
        return;
      case "clear-attempt":
        m.attempt = undefined;
        return;
      case "rollback":
        // Returned without restarting (a platform whose restart is deferred): nothing else may run.
        m.mode = "restarting";
        return;
      default:
        return;
    }
  }

  private restart(): void {
    const m = this.m;
    m.job = undefined;
    m.mode = "restarting";
    this.disarm();
    this.effects.push({ type: "log", level: "info", message: `ota: version ${m.attempt?.version} staged in slot ${m.attempt?.slot}; restarting` });
    this.effects.push({ type: "restart" });
  }

  private afterSave(r: AttemptRecord): void {
    const m = this.m;
    switch (r.stage) {
      case Stage.Pending:
        if (m.mode === "downloading") this.restart();
        return;
      case Stage.Staged:
        if (m.mode === "downloading" && m.job) this.op = { type: "set-pending", slot: r.slot };
        return;
      case Stage.Network:
      case Stage.Unhealthy:
        if (m.mode === "trial" && m.trial?.cause !== undefined) this.healthFailed(m.trial);
        return;
      case Stage.Confirming:
        if (m.mode === "trial" && m.trial && m.trial.cause === undefined) {
          m.trial = { ...m.trial, record: r };
          this.op = { type: "mark-valid" };
        }
        return;
      default:
        return; // Trial, Interrupted: bookkeeping only
    }
  }

  private afterReject(version: number): void {
    const m = this.m;
    if (m.mode === "trial" && m.trial?.cause === TrialCause.Unhealthy) {
      this.op = { type: "rollback" };
      return;
    }
    // On the old image after a failed trial: the record has served its purpose.
    if (m.attempt && m.attempt.version === version && m.mode !== "downloading") this.op = { type: "clear-attempt" };
  }

  private failed(i: Extract<OtaInput, { type: "failed" }>): void {
    const m = this.m;
    const what = `${i.port}: ${i.detail}`;
    switch (i.op.type) {
      case "boot-facts":
        m.mode = "broken";
        return this.report(OtaState.Idle, OtaResult.UpdateFailed, { detail: `cannot read the boot state: ${what}` });
      case "offer-id":
      case "check-offer": {
        const offer = i.op.type === "check-offer" ? i.op.offer : undefined;
        return this.report(m.job ? OtaState.Downloading : OtaState.Idle, OtaResult.UpdateFailed, { offer, detail: `cannot check the offer: ${what}` });
      }
      case "scan":
      case "store-block":
      case "verify-image":
        if (m.mode !== "downloading") return;
        return this.fail(OtaResult.UpdateFailed, `${i.op.type}: ${what}`);
      case "save-attempt": {
        const stage = i.op.record.stage;
        if (stage === Stage.Staged) {
          if (m.mode === "downloading") this.fail(OtaResult.UpdateFailed, `could not record the attempt: ${what}`);
          return;
        }
        this.effects.push({ type: "log", level: "warn", message: `ota: could not record the attempt (stage ${stage}): ${what}` });
        return this.afterSave(i.op.record); // rolls back all the same
      }
      case "set-pending": {
        if (m.mode !== "downloading") return;
        this.fail(OtaResult.UpdateFailed, `could not switch slots: ${what}`);
        // Undo the count of an install that never happened.
        const a = m.attempt;
        if (a && a.attempts > 1) this.op = { type: "save-attempt", record: { ...a, stage: Stage.Interrupted, attempts: a.attempts - 1 } };
        else this.op = { type: "clear-attempt" };
        return;
      }
      case "mark-valid":
        // Stay on trial; the bootloader still bounds it. Try again shortly.
        if (m.mode === "trial") this.arm("retry-valid", this.p.bootRetryMs);
        return;
      case "confirm-records":
        this.effects.push({ type: "log", level: "warn", message: `ota: confirmation bookkeeping failed (done again at next boot): ${what}` });
        return this.confirmed(m.trial?.record ?? m.attempt ?? { version: i.op.running.version, slot: i.op.running.slot, securityCounter: i.op.counter, seqBefore: 0, stage: Stage.Trial, attempts: 1, offer: NO_OFFER });
      case "reject": {
        this.effects.push({ type: "log", level: "warn", message: `ota: could not remember rejected version ${i.op.version}: ${what}` });
        // Refused from memory for the rest of this boot; on the old image the attempt record stays,
        // so the next boot judges the trial again and tries to write the rejection again.
        m.unsavedRejections = [...(m.unsavedRejections ?? []), i.op.version];
        if (m.mode === "trial" && m.trial?.cause === TrialCause.Unhealthy) this.op = { type: "rollback" };
        return;
      }
      case "clear-attempt":
        this.effects.push({ type: "log", level: "warn", message: `ota: could not clear the attempt record: ${what}` });
        return;
      case "lift-rejection":
        if (m.mode !== "downloading") return;
        return this.fail(OtaResult.UpdateFailed, `could not lift the rejection: ${what}`);
      case "rollback": {
        if (m.mode !== "trial" || !m.trial) return;
        if (i.rollbackFailed) {
          const a = m.trial.record;
          m.mode = "idle";
          m.trial = undefined;
          this.report(OtaState.Idle, OtaResult.RollbackFailed, { version: a.version, offer: offerOf(a), detail: i.detail });
          this.op = { type: "clear-attempt" };
          return;
        }
        this.arm("retry-rollback", this.p.bootRetryMs);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private saveAttempt(r: AttemptRecord): void {
    this.op = { type: "save-attempt", record: r };
  }

  private clearAttempt(): void {
    if (this.m.rollback) this.report(OtaState.Idle, OtaResult.Initial);
    this.op = { type: "clear-attempt" };
  }

  private progress(): void {
    const job = this.m.job!;
    this.report(OtaState.Downloading, OtaResult.Initial, { version: job.manifest.version, offer: job.offer, received: job.count, total: job.total });
  }

  private arm(kind: TimerKind, ms: number): void {
    this.m.timer = kind;
    this.effects.push({ type: "arm", kind, ms });
  }

  private disarm(): void {
    if (this.m.timer === undefined) return;
    this.m.timer = undefined;
    this.effects.push({ type: "disarm" });
  }

  private report(state: OtaStateCode, result: number, extra: Partial<OtaStatus> = {}): void {
    const s: OtaStatus = { state, result, ...extra, running: this.m.running };
    for (const k of Object.keys(s) as (keyof OtaStatus)[]) if (s[k] === undefined) delete s[k];
    this.effects.push({ type: "status", status: s });
  }
}

function keptCause(c: number | undefined): TrialCauseCode | undefined {
  return c !== undefined && c >= TrialCause.PowerLoss && c <= TrialCause.Unknown ? (c as TrialCauseCode) : undefined;
}

function offerOf(a: AttemptRecord): Uint8Array | undefined {
  return a.offer.length > 0 ? a.offer : undefined;
}

/** The version an offer claims, before any check: only used to decide whether to report, never to act. */
export function unverifiedVersion(envelope: Uint8Array): number | undefined {
  try {
    return parseManifest(parseEnvelope(envelope).manifestBytes).version;
  } catch {
    return undefined;
  }
}

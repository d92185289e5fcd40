/**
 * The OTA state machine, transport-agnostic: fed with offers (manifest envelopes), blocks and
 * health events; it answers with status reports and block wants through OtaHost callbacks.
 * The MQTT wiring is device/core/ota/mqtt-ota.ts.
 *
 * Flow (docs/protocol/ota.md): verify offer → preconditions → download missing blocks into the
 * inactive slot, each checked against its hash → verify whole image → trial record → setPending
 * → restart → trial boot health check → markValid, or roll back. Resume needs no progress
 * record: blocks already in the slot are recognised by their hashes.
 *
 * Rules: only FlashError/KvError are caught here; anything else (a power cut in host-sim, a
 * restart) unwinds to the caller, as on a board. Nothing is ever written to the running slot.
 */
import {
  FlashError,
  KvError,
  RollbackFailed,
  type BootControl,
  type Clock,
  type Flash,
  type FlashPartition,
  type KeyValueStore,
  type Log,
  type Sha256,
  type SlotIndex,
  type System,
  type TimerId,
  type WallClock,
} from "../../ports";
import { bytesEqual, sha256Of } from "./bytes";
import { OtaResult, OtaState } from "./codes";
import { tweetnaclVerify, type SignatureCheck } from "./ed25519";
import { tetherImageCheck, type ImageCheck } from "./image-check";
import { blockCount, blockHash, blockLength, parseEnvelope, parseManifest, type Manifest } from "./manifest";
import type { OtaStatus } from "./status";
import { OtaStore } from "./store";
import { trustKeys, verifyOffer, type TrustedKey } from "./verify";

export const SLOT_NAMES = ["ota_0", "ota_1"] as const;

export const DEFAULTS = {
  /** T: the trial image must pass its health check within this time. */
  healthTimeoutMs: 120_000,
  deferRetryMs: 60_000,
  /** Blocks requested at once. */
  window: 4,
  /** No wanted block for this long: ask again. */
  stallTimeoutMs: 30_000,
  maxStalls: 5,
  /** The same block failing its hash this often fails the update (a bad retained block never heals). */
  maxBadBlock: 3,
  /** Progress report every this many blocks. */
  progressEvery: 16,
};

export interface OtaHost {
  status(s: OtaStatus): void;
  /** Asks the transport for these blocks (MQTT: subscribe to their retained topics). */
  want(blocks: number[]): void;
  /** These blocks are no longer needed (MQTT: unsubscribe). */
  release(blocks: number[]): void;
}

export interface OtaDeps {
  flash: Flash;
  boot: BootControl;
  sha256: Sha256;
  kv: KeyValueStore;
  clock: Clock;
  wallClock: WallClock;
  system: System;
  log?: Log;
}

export interface OtaOptions {
  hardwareId: string;
  currentVersion: number;
  /** ed25519 public keys (32 bytes) allowed to sign manifests. */
  trustedKeys: Uint8Array[];
  /** undefined when an update may start now; otherwise why not (battery low, busy, ...). */
  preconditions?: () => string | undefined;
  /** Install even when the bootloader cannot roll back (default: refuse, result 107). */
  allowWithoutRollback?: boolean;
  verifySignature?: SignatureCheck;
  /** The slot image format check: tetherImageCheck (default; host-sim) or espIdfImageCheck (ESP32). */
  imageCheck?: ImageCheck;
  healthTimeoutMs?: number;
  deferRetryMs?: number;
  window?: number;
  stallTimeoutMs?: number;
  maxStalls?: number;
  maxBadBlock?: number;
  progressEvery?: number;
}

type Mode = "idle" | "deferred" | "downloading" | "trial";

interface Job {
  manifest: Manifest;
  manifestBytes: Uint8Array;
  slot: SlotIndex;
  part: FlashPartition;
  total: number;
  have: Uint8Array;
  count: number;
  inflight: Set<number>;
  bad: Map<number, number>;
  stalls: number;
}

export class OtaUpdater {
  private readonly o: Required<Omit<OtaOptions, "preconditions">> & Pick<OtaOptions, "preconditions">;
  private readonly store: OtaStore;
  private readonly keys: TrustedKey[];
  private mode: Mode = "idle";
  private job: Job | undefined;
  private timer: TimerId | undefined;
  /** An offer to look at again later (deferred, or received during the trial). */
  private parked: Uint8Array | undefined;
  private trialVersion = 0;
  private connected = false;
  private telemetryAcked = false;
  private last: OtaStatus | undefined;

  constructor(
    private readonly d: OtaDeps,
    options: OtaOptions,
    private readonly host: OtaHost,
  ) {
    this.o = {
      allowWithoutRollback: false,
      verifySignature: tweetnaclVerify,
      imageCheck: tetherImageCheck,
      ...DEFAULTS,
      ...options,
    };
    this.store = new OtaStore(d.kv);
    this.keys = trustKeys(options.trustedKeys, d.sha256);
  }

  /** The last status reported. */
  lastStatus(): OtaStatus | undefined {
    return this.last;
  }

  get state(): Mode {
    return this.mode;
  }

  /** Call once per boot, before offers: settles what the last boot left behind. */
  start(): void {
    const boot = this.d.boot;
    const running = boot.runningSlot();
    const state = boot.runningState();
    const trial = this.store.trial();
    if (!boot.rollbackAvailable()) {
      this.report(OtaState.Idle, OtaResult.RollbackUnavailable, { detail: "bootloader without rollback support" });
    }
    if (trial && trial.slot === running) {
      if (state === "pending-verify") return this.beginTrial(trial.version);
      // Confirmed before a reboot cut the bookkeeping short (or no rollback support: nothing to confirm).
      return this.confirmed(trial.version, trial.securityCounter);
    }
    if (trial) {
      const landed = boot.recordSeq() !== trial.seqBefore;
      const s = boot.slotState(trial.slot);
      if (landed && (s === "aborted" || s === "invalid")) {
        this.rejectVersion(trial.version);
        this.clearTrial();
        return this.report(OtaState.Idle, OtaResult.RolledBack, { version: trial.version, detail: `trial image ${s}; back on slot ${running}` });
      }
      // setPending never landed: the update was not applied; the next offer resumes it.
      this.clearTrial();
    } else if (state === "pending-verify") {
      return this.beginTrial(this.o.currentVersion);
    }
    if (boot.rollbackAvailable()) this.report(OtaState.Idle, OtaResult.Initial);
  }

  /** A manifest envelope arrived (MQTT: retained on .../ota/manifest). Never throws on bad input. */
  offer(bytes: Uint8Array): void {
    if (bytes.length === 0) return; // retained offer cleared
    if (this.mode === "trial") {
      this.parked = bytes;
      // The retained offer of the image on trial itself is expected here: no need to report it.
      if (unverifiedVersion(bytes) === this.trialVersion) return;
      return this.report(OtaState.Updating, OtaResult.Deferred, { version: this.trialVersion, detail: "trial pending: new offers wait until this image is confirmed" });
    }
    if (this.job && bytesEqual(this.job.manifestBytes, manifestBytesOf(bytes) ?? new Uint8Array(0))) {
      this.resume(); // the same offer again (reconnect): ask for what is still missing
      return;
    }
    const running = this.d.boot.runningSlot();
    const target: SlotIndex = running === 0 ? 1 : 0;
    let slotSize = 0;
    try {
      slotSize = this.d.flash.open(SLOT_NAMES[target]).size;
    } catch (e) {
      if (!(e instanceof FlashError)) throw e;
    }
    const wall = this.d.wallClock.now();
    const verdict = verifyOffer(bytes, {
      trustedKeys: this.keys,
      hardwareId: this.o.hardwareId,
      slotSize,
      runningVersion: this.o.currentVersion,
      securityCounter: this.store.securityCounter(),
      isRejected: (v) => this.store.isRejected(v),
      nowSeconds: wall === undefined ? undefined : Math.floor(wall / 1000),
      verifySignature: this.o.verifySignature,
    });
    if (!verdict.ok) {
      if (verdict.result === OtaResult.Deferred && !this.job) return this.defer(bytes, verdict.detail, verdict.version);
      // A bad offer never disturbs a download in progress.
      return this.report(this.job ? OtaState.Downloading : OtaState.Idle, verdict.result, { version: verdict.version, detail: verdict.detail });
    }
    const m = verdict.manifest;
    if (m.version === this.o.currentVersion) {
      if (!this.job) this.report(OtaState.Idle, OtaResult.Success, { version: m.version, detail: "already running" });
      return;
    }
    if (!this.d.boot.rollbackAvailable() && !this.o.allowWithoutRollback) {
      return this.report(OtaState.Idle, OtaResult.RollbackUnavailable, { version: m.version, detail: "bootloader cannot roll back: update refused" });
    }
    const why = this.o.preconditions?.();
    if (why !== undefined) return this.defer(bytes, why, m.version);
    this.begin(m, verdict.envelope.manifestBytes, target);
  }

  /** Block `index` arrived. Duplicates, strays and late blocks are ignored. */
  block(index: number, bytes: Uint8Array): void {
    const job = this.job;
    if (this.mode !== "downloading" || !job) return;
    if (!Number.isInteger(index) || index < 0 || index >= job.total || job.have[index]) return;
    const m = job.manifest;
    const want = blockLength(m, index);
    if (bytes.length !== want || !bytesEqual(this.hash(bytes), blockHash(m, index))) {
      const n = (job.bad.get(index) ?? 0) + 1;
      job.bad.set(index, n);
      if (n >= this.o.maxBadBlock) {
        // Not remembered as rejected: stale or forged blocks on the broker say nothing about the
        // signed image, and anyone able to publish a block must not be able to veto a version.
        return this.fail(OtaResult.IntegrityFailure, `block ${index} failed its hash ${n} times (${bytes.length} bytes, want ${want})`);
      }
      // Not at once: a stale retained block would come straight back. The stall timer asks
      // again later, when the backend has had time to publish the right one.
      this.host.release([index]);
      return;
    }
    try {
      this.writeBlock(job, index, bytes);
    } catch (e) {
      if (!(e instanceof FlashError)) throw e;
      return this.fail(OtaResult.UpdateFailed, `flash: ${e.message}`);
    }
    job.have[index] = 1;
    job.count++;
    job.inflight.delete(index);
    job.stalls = 0;
    this.host.release([index]);
    if (job.count === job.total) return this.finish(job);
    if (job.count % this.o.progressEvery === 0) this.progress(job);
    this.request(job);
  }

  /** The transport reconnected: ask again for the blocks still missing. */
  resume(): void {
    const job = this.job;
    if (this.mode !== "downloading" || !job) return;
    job.stalls = 0;
    if (job.inflight.size > 0) this.host.want([...job.inflight]);
    this.request(job);
  }

  /** Health inputs for the trial boot. */
  noteConnected(): void {
    this.connected = true;
    this.checkHealth();
  }

  noteTelemetryAcked(): void {
    this.telemetryAcked = true;
    this.checkHealth();
  }

  /** Stops timers (the agent is shutting down). */
  close(): void {
    this.clearTimer();
  }

  // ------------------------------------------------------------------ download

  private begin(m: Manifest, manifestBytes: Uint8Array, slot: SlotIndex): void {
    this.abandon();
    this.parked = undefined;
    const part = this.d.flash.open(SLOT_NAMES[slot]);
    if (m.blockSize % part.blockSize !== 0) {
      return this.report(OtaState.Idle, OtaResult.UnsupportedPackage, { version: m.version, detail: `block size ${m.blockSize} is not a multiple of the flash erase block ${part.blockSize}` });
    }
    const total = blockCount(m.length, m.blockSize);
    const job: Job = { manifest: m, manifestBytes, slot, part, total, have: new Uint8Array(total), count: 0, inflight: new Set(), bad: new Map(), stalls: 0 };
    // Resume: whatever already sits in the slot with the right hash is kept.
    for (let i = 0; i < total; i++) {
      if (bytesEqual(this.hash(part.read(i * m.blockSize, blockLength(m, i))), blockHash(m, i))) {
        job.have[i] = 1;
        job.count++;
      }
    }
    this.job = job;
    this.mode = "downloading";
    this.progress(job);
    if (job.count === total) return this.finish(job);
    this.request(job);
  }

  private request(job: Job): void {
    const add: number[] = [];
    for (let i = 0; i < job.total && job.inflight.size + add.length < this.o.window; i++) {
      if (!job.have[i] && !job.inflight.has(i)) add.push(i);
    }
    for (const i of add) job.inflight.add(i);
    if (add.length > 0) this.host.want(add);
    this.armStall();
  }

  private armStall(): void {
    this.clearTimer();
    this.timer = this.d.clock.setTimeout(() => {
      this.timer = undefined;
      const job = this.job;
      if (this.mode !== "downloading" || !job) return;
      job.stalls++;
      if (job.stalls > this.o.maxStalls) {
        const missing = [...job.inflight].slice(0, 8).join(",");
        return this.fail(OtaResult.ConnectionLost, `download stalled: block(s) ${missing} never arrived`);
      }
      this.host.want([...job.inflight]);
      this.armStall();
    }, this.o.stallTimeoutMs);
  }

  private writeBlock(job: Job, index: number, bytes: Uint8Array): void {
    const { part, manifest: m } = job;
    const start = index * m.blockSize;
    const end = Math.min(start + m.blockSize, part.size);
    for (let b = start / part.blockSize; b * part.blockSize < end; b++) part.eraseBlock(b);
    part.write(start, bytes);
    // Read back: a write that silently failed must not count as done.
    if (!bytesEqual(this.hash(part.read(start, bytes.length)), blockHash(m, index))) {
      throw new FlashError("io", `block ${index} reads back wrong after writing`);
    }
  }

  private finish(job: Job): void {
    this.clearTimer();
    const m = job.manifest;
    this.report(OtaState.Downloaded, OtaResult.Initial, { version: m.version, received: job.total, total: job.total });
    const whole = this.d.sha256.create();
    for (let off = 0; off < m.length; off += 4096) whole.update(job.part.read(off, Math.min(4096, m.length - off)));
    if (!bytesEqual(whole.digest(), m.sha256)) {
      this.rejectVersion(m.version);
      return this.fail(OtaResult.IntegrityFailure, "image hash does not match the manifest");
    }
    const bad = this.o.imageCheck((off, len) => job.part.read(off, len), m, this.d.sha256);
    if (bad !== undefined) {
      this.rejectVersion(m.version);
      return this.fail(OtaResult.UnsupportedPackage, `image refused: ${bad}`);
    }
    this.apply(job);
  }

  private apply(job: Job): void {
    const m = job.manifest;
    this.report(OtaState.Updating, OtaResult.Initial, { version: m.version });
    try {
      // Trial record first: after any reboot the old image can tell whether the trial happened.
      this.store.setTrial({ version: m.version, slot: job.slot, securityCounter: m.securityCounter, seqBefore: this.d.boot.recordSeq() });
      this.d.boot.setPending(job.slot);
    } catch (e) {
      if (!recoverable(e)) throw e;
      this.clearTrial();
      return this.fail(OtaResult.UpdateFailed, `could not switch slots: ${e.message}`);
    }
    this.job = undefined;
    this.mode = "idle";
    this.d.log?.("info", `ota: version ${m.version} staged in slot ${job.slot}; restarting`);
    this.d.system.restart();
  }

  private fail(result: number, detail: string): void {
    const v = this.job?.manifest.version;
    this.abandon();
    this.report(OtaState.Idle, result, { version: v, detail });
  }

  /** Drops the current download (its blocks in the slot stay, for a later resume). */
  private abandon(): void {
    this.clearTimer();
    if (this.job && this.job.inflight.size > 0) this.host.release([...this.job.inflight]);
    this.job = undefined;
    if (this.mode === "downloading" || this.mode === "deferred") this.mode = "idle";
  }

  private defer(bytes: Uint8Array, why: string, version?: number): void {
    this.abandon();
    this.mode = "deferred";
    this.parked = bytes;
    this.report(OtaState.Idle, OtaResult.Deferred, { version, detail: why });
    this.timer = this.d.clock.setTimeout(() => {
      this.timer = undefined;
      const again = this.parked;
      this.parked = undefined;
      this.mode = "idle";
      if (again) this.offer(again);
    }, this.o.deferRetryMs);
  }

  // ------------------------------------------------------------------ trial boot

  private beginTrial(version: number): void {
    this.mode = "trial";
    this.trialVersion = version;
    this.report(OtaState.Updating, OtaResult.Initial, { version, detail: "trial boot: health check running" });
    this.clearTimer();
    this.timer = this.d.clock.setTimeout(() => {
      this.timer = undefined;
      this.rollBack(`health check not passed within ${this.o.healthTimeoutMs} ms (connected: ${this.connected}, telemetry acked: ${this.telemetryAcked})`);
    }, this.o.healthTimeoutMs);
    this.checkHealth();
  }

  private checkHealth(): void {
    if (this.mode !== "trial" || !this.connected || !this.telemetryAcked) return;
    this.clearTimer();
    try {
      this.d.boot.markValid();
    } catch (e) {
      if (!recoverable(e)) throw e;
      // Stay on trial; the bootloader's boot counter still bounds it. Try again shortly.
      this.timer = this.d.clock.setTimeout(() => this.checkHealth(), 1000);
      return;
    }
    const t = this.store.trial();
    this.confirmed(this.trialVersion, t?.securityCounter ?? 0);
  }

  private confirmed(version: number, counter: number): void {
    this.mode = "idle";
    try {
      this.store.raiseSecurityCounter(counter);
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
    }
    this.clearTrial();
    this.report(OtaState.Idle, OtaResult.Success, { version, detail: "image confirmed" });
    const again = this.parked;
    this.parked = undefined;
    if (again) this.offer(again);
  }

  private rollBack(why: string): void {
    const v = this.trialVersion;
    this.rejectVersion(v);
    this.report(OtaState.Idle, OtaResult.RolledBack, { version: v, detail: why });
    try {
      this.d.boot.markInvalidAndRollback(); // restarts
    } catch (e) {
      if (e instanceof RollbackFailed) {
        this.mode = "idle";
        this.clearTrial();
        return this.report(OtaState.Idle, OtaResult.RollbackFailed, { version: v, detail: e.message });
      }
      if (!recoverable(e)) throw e;
      this.timer = this.d.clock.setTimeout(() => this.rollBack(why), 1000);
    }
  }

  // ------------------------------------------------------------------ helpers

  private progress(job: Job): void {
    this.report(OtaState.Downloading, OtaResult.Initial, { version: job.manifest.version, received: job.count, total: job.total });
  }

  private rejectVersion(v: number): void {
    try {
      this.store.reject(v, this.o.currentVersion);
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.d.log?.("warn", `ota: could not remember rejected version ${v}: ${e.message}`);
    }
  }

  private clearTrial(): void {
    try {
      this.store.clearTrial();
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
    }
  }

  private hash(bytes: Uint8Array): Uint8Array {
    return sha256Of(this.d.sha256, bytes);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.d.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private report(state: OtaStatus["state"], result: number, extra: Partial<OtaStatus> = {}): void {
    const s: OtaStatus = { state, result, ...extra, running: this.o.currentVersion };
    for (const k of Object.keys(s) as (keyof OtaStatus)[]) if (s[k] === undefined) delete s[k];
    this.last = s;
    this.host.status(s);
  }
}

/**
 * Failures OTA handles (reports, retries): flash and KV errors, and BootControl failures, which
 * adapters raise as an Error named "BootError" (device/platform/moddable/boot.ts). Anything else,
 * such as host-sim unwinding a power cut or a restart, passes through untouched.
 */
function recoverable(e: unknown): e is Error {
  return e instanceof FlashError || e instanceof KvError || (e instanceof Error && e.name === "BootError");
}

/** The version an offer claims, before any check: only used to decide whether to report, never to act. */
function unverifiedVersion(envelope: Uint8Array): number | undefined {
  try {
    return parseManifest(parseEnvelope(envelope).manifestBytes).version;
  } catch {
    return undefined;
  }
}

/** The manifest bytes inside an envelope, or undefined when it is not one (cheap, no signature check). */
function manifestBytesOf(envelope: Uint8Array): Uint8Array | undefined {
  try {
    return parseEnvelope(envelope).manifestBytes;
  } catch {
    return undefined;
  }
}

/**
 * The OTA runner: feeds inputs to the pure state machine (machine.ts) and performs what it asks
 * for. Fire-and-forget effects go to the host (status, block wants), the clock (one timer) and
 * the system (restart); an op is a port operation whose outcome, a failure included, goes back
 * into the machine as the next input. The MQTT wiring is device/core/ota/mqtt-ota.ts.
 *
 * Flow (docs/protocol/ota.md): verify offer → preconditions → download missing blocks into the
 * inactive slot, each checked against its hash → verify whole image → attempt record →
 * setPending → restart → trial boot health check → markValid, or roll back.
 *
 * Error policy, the only one: an error thrown by a port is a failure of that port and becomes
 * an input, except a halt (isHalt: a power cut or restart in host-sim), which unwinds to the
 * caller as on a board. Errors of this code itself are not caught. Nothing is ever written to
 * the running slot.
 */
import {
  isHalt,
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
import { OtaResult } from "./codes";
import { tweetnaclVerify, type SignatureCheck } from "./ed25519";
import { tetherImageCheck, type ImageCheck } from "./image-check";
import { blockCount, blockHash, blockLength, type Manifest } from "./manifest";
import { initialOta, step, type BootFacts, type Mode, type OtaEffect, type OtaInput, type OtaModel, type OtaOp, type OtaPolicy, type PortName } from "./machine";
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
  /** Installs of a version whose trials were cut short by power or network loss, before it is rejected. */
  maxTrials: 3,
  /** Wait before installing again after an interrupted trial (doubles with each attempt). */
  retryBackoffMs: 120_000,
  /** Wait before retrying a failed markValid or rollback. */
  bootRetryMs: 1_000,
};

/** Bytes hashed per port call when the whole image is checked. */
const READ_CHUNK = 4096;

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
  /** The build's own version; the running version is the confirmed manifest's when there is one. */
  currentVersion: number;
  /** ed25519 public keys (32 bytes) allowed to sign manifests. */
  trustedKeys: Uint8Array[];
  /** undefined when an update may proceed now; otherwise why not (battery low, busy, ...). Checked at the offer and at every block. */
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
  maxTrials?: number;
  retryBackoffMs?: number;
  bootRetryMs?: number;
}

/** A port call that threw (not a halt): becomes a "failed" input. */
class PortFailure {
  constructor(
    readonly port: PortName,
    readonly detail: string,
    readonly rollbackFailed = false,
  ) {}
}

function guard<T>(port: PortName, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isHalt(e) || e instanceof PortFailure) throw e;
    // RollbackFailed is recognised by name, as ports.ts defines it (one class per image bundle).
    throw new PortFailure(port, e instanceof Error ? e.message : String(e), e instanceof Error && e.name === "RollbackFailed");
  }
}

export class OtaUpdater {
  private readonly policy: OtaPolicy;
  private readonly store: OtaStore;
  private readonly keys: TrustedKey[];
  private readonly imageCheck: ImageCheck;
  private readonly verifySignature: SignatureCheck;
  private model: OtaModel;
  private timer: TimerId | undefined;
  private last: OtaStatus | undefined;
  /** Inputs that arrived while an earlier one was being run (a host calling back synchronously). */
  private readonly queue: OtaInput[] = [];
  private running = false;

  constructor(
    private readonly d: OtaDeps,
    private readonly o: OtaOptions,
    private readonly host: OtaHost,
  ) {
    this.policy = {
      ...DEFAULTS,
      allowWithoutRollback: false,
      ...withoutUndefined(o),
      codeVersion: o.currentVersion,
    } as OtaPolicy;
    this.imageCheck = o.imageCheck ?? tetherImageCheck;
    this.verifySignature = o.verifySignature ?? tweetnaclVerify;
    this.store = new OtaStore(d.kv);
    this.keys = trustKeys(o.trustedKeys, d.sha256);
    this.model = initialOta(o.currentVersion);
  }

  /** The last status reported. */
  lastStatus(): OtaStatus | undefined {
    return this.last;
  }

  /** The machine's mode ("idle", "deferred", "downloading", "trial", ...). */
  get state(): Mode {
    return this.model.mode;
  }

  /** SHA-256 of the image being downloaded (its verified manifest's field 4), if a download job exists. */
  downloadImage(): Uint8Array | undefined {
    return this.model.job?.manifest.sha256;
  }

  /** The version running now: the confirmed manifest's (or, on a trial, the one on trial). */
  runningVersion(): number {
    return this.model.running;
  }

  /** Call once per boot, before offers: settles what the last boot left behind. */
  start(): void {
    let facts: BootFacts;
    try {
      facts = this.bootFacts();
    } catch (e) {
      if (!(e instanceof PortFailure)) throw e;
      return this.feed({ type: "failed", op: { type: "boot-facts" }, port: e.port, detail: e.detail });
    }
    this.feed({ type: "boot", facts });
  }

  /** A manifest envelope arrived (MQTT: retained on .../ota/manifest); empty = withdrawn. Never throws on bad input. */
  offer(bytes: Uint8Array): void {
    if (bytes.length === 0) return this.feed({ type: "offer", bytes, offer: new Uint8Array(0) });
    let offer: Uint8Array;
    try {
      offer = guard("sha", () => sha256Of(this.d.sha256, bytes));
    } catch (e) {
      if (!(e instanceof PortFailure)) throw e;
      return this.feed({ type: "failed", op: { type: "offer-id" }, port: e.port, detail: e.detail });
    }
    this.feed({ type: "offer", bytes, offer });
  }

  /** Block `index` arrived. Duplicates, strays and late blocks are ignored. */
  block(index: number, bytes: Uint8Array): void {
    // Preconditions are asked only while a download runs: they hold for all of it.
    const blocked = this.model.mode === "downloading" ? this.o.preconditions?.() : undefined;
    this.feed({ type: "block", index, bytes, blocked });
  }

  /** The transport reconnected: ask again for the blocks still missing. */
  resume(): void {
    this.feed({ type: "resume" });
  }

  /** Health inputs for the trial boot. */
  noteConnected(): void {
    this.feed({ type: "connected" });
  }

  noteDisconnected(): void {
    this.feed({ type: "disconnected" });
  }

  noteTelemetryAcked(): void {
    // Every telemetry PUBACK comes here, and only a trial's health check waits for one: with no
    // trial (and no step under way that could start one) step() would hand the model back unchanged.
    if (!this.running && this.model.trial === undefined) return;
    this.feed({ type: "telemetry-acked" });
  }

  /** Stops timers (the agent is shutting down). */
  close(): void {
    this.clearTimer();
  }

  // ---------------------------------------------------------------- the loop

  private feed(input: OtaInput): void {
    this.queue.push(input);
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        let i: OtaInput | undefined = next;
        while (i) {
          const r = step(this.model, i, this.policy);
          this.model = r.model;
          for (const e of r.effects) this.perform(e);
          i = r.op ? this.run(r.op) : undefined;
        }
      }
    } finally {
      this.running = false;
      this.queue.length = 0; // after a halt nothing queued may run
    }
  }

  private perform(e: OtaEffect): void {
    switch (e.type) {
      case "status":
        this.last = e.status;
        return this.host.status(e.status);
      case "want":
        return this.host.want(e.blocks);
      case "release":
        return this.host.release(e.blocks);
      case "arm":
        this.clearTimer();
        this.timer = this.d.clock.setTimeout(() => {
          this.timer = undefined;
          this.feed({ type: "timer", kind: e.kind });
        }, e.ms);
        return;
      case "disarm":
        return this.clearTimer();
      case "log":
        return this.d.log?.(e.level, e.message);
      case "restart":
        this.clearTimer();
        return this.d.system.restart();
    }
  }

  /** Performs an op; returns its outcome as the machine's next input. */
  private run(op: OtaOp): OtaInput {
    try {
      return this.outcome(op);
    } catch (e) {
      if (!(e instanceof PortFailure)) throw e;
      return { type: "failed", op, port: e.port, detail: e.detail, rollbackFailed: e.rollbackFailed };
    }
  }

  private outcome(op: OtaOp): OtaInput {
    const boot = this.d.boot;
    const store = this.store;
    switch (op.type) {
      case "check-offer":
        return this.checkOffer(op.bytes, op.offer);
      case "scan": {
        const part = this.part(op.slot);
        const m = op.manifest;
        const total = blockCount(m.length, m.blockSize);
        const have = new Uint8Array(total);
        for (let i = 0; i < total; i++) {
          const bytes = guard("flash", () => part.read(i * m.blockSize, blockLength(m, i)));
          have[i] = bytesEqual(this.hash(bytes), blockHash(m, i)) ? 1 : 0;
        }
        return { type: "scanned", have };
      }
      case "store-block": {
        const { manifest: m, index, bytes } = op;
        if (!bytesEqual(this.hash(bytes), blockHash(m, index))) return { type: "block-bad", index, length: bytes.length };
        this.writeBlock(this.part(op.slot), m, index, bytes);
        return { type: "block-stored", index };
      }
      case "verify-image":
        return this.verifyImage(this.part(op.slot), op.manifest);
      case "save-attempt": {
        const record = op.record.seqBefore < 0 ? { ...op.record, seqBefore: guard("boot", () => boot.recordSeq()) } : op.record;
        guard("kv", () => store.setAttempt(record));
        return { type: "done", op: { ...op, record } };
      }
      case "clear-attempt":
        guard("kv", () => store.clearAttempt());
        return { type: "done", op };
      case "set-pending":
        guard("boot", () => boot.setPending(op.slot));
        return { type: "done", op };
      case "mark-valid":
        guard("boot", () => boot.markValid());
        return { type: "done", op };
      case "confirm-records":
        guard("kv", () => {
          store.setRunning(op.running);
          store.raiseSecurityCounter(op.counter);
          store.clearAttempt();
        });
        return { type: "done", op };
      case "reject":
        guard("kv", () => store.reject(op.version, op.running, op.cause));
        return { type: "done", op };
      case "lift-rejection":
        guard("kv", () => store.lift(op.version));
        return { type: "done", op };
      case "rollback":
        guard("boot", () => boot.markInvalidAndRollback()); // restarts (a halt in host-sim)
        return { type: "done", op };
    }
  }

  private checkOffer(bytes: Uint8Array, offer: Uint8Array): OtaInput {
    const running = guard("boot", () => this.d.boot.runningSlot());
    const slot: SlotIndex = running === 0 ? 1 : 0;
    let size = 0;
    let eraseBlock = 1;
    try {
      const part = this.part(slot);
      size = part.size;
      eraseBlock = part.blockSize;
    } catch (e) {
      if (!(e instanceof PortFailure)) throw e; // no spare slot: the size check refuses the offer (2)
    }
    const wall = this.d.wallClock.now();
    const store = this.store;
    const counter = guard("kv", () => store.securityCounter());
    const rejected = guard("kv", () => store.rejected());
    const verdict = verifyOffer(bytes, {
      trustedKeys: this.keys,
      hardwareId: this.o.hardwareId,
      slotSize: size,
      runningVersion: this.model.running,
      securityCounter: counter,
      isRejected: (v) => rejected.includes(v) || this.model.unsavedRejections?.includes(v) === true,
      canLift: (v) => this.model.unsavedRejections?.includes(v) !== true && guard("kv", () => store.canLift(v)),
      nowSeconds: wall === undefined ? undefined : Math.floor(wall / 1000),
      verifySignature: this.verifySignature,
    });
    const blocked = verdict.ok ? this.o.preconditions?.() : undefined;
    return { type: "offer-checked", bytes, offer, verdict, slot, eraseBlock, blocked };
  }

  private writeBlock(part: FlashPartition, m: Manifest, index: number, bytes: Uint8Array): void {
    const start = index * m.blockSize;
    const end = Math.min(start + m.blockSize, part.size);
    guard("flash", () => {
      for (let b = start / part.blockSize; b * part.blockSize < end; b++) part.eraseBlock(b);
      part.write(start, bytes);
    });
    // Read back: a write that silently failed must not count as done.
    const back = guard("flash", () => part.read(start, bytes.length));
    if (!bytesEqual(this.hash(back), blockHash(m, index))) throw new PortFailure("flash", `block ${index} reads back wrong after writing`);
  }

  private verifyImage(part: FlashPartition, m: Manifest): OtaInput {
    const whole = guard("sha", () => this.d.sha256.create());
    for (let off = 0; off < m.length; off += READ_CHUNK) {
      const chunk = guard("flash", () => part.read(off, Math.min(READ_CHUNK, m.length - off)));
      guard("sha", () => whole.update(chunk));
    }
    if (!bytesEqual(guard("sha", () => whole.digest()), m.sha256)) return { type: "image-bad", result: OtaResult.IntegrityFailure, detail: "image hash does not match the manifest" };
    // The format check reads the slot and hashes through the ports too: any failure there is theirs.
    let bad: string | undefined;
    try {
      bad = this.imageCheck((off, len) => guard("flash", () => part.read(off, len)), m, guardedSha(this.d.sha256));
    } catch (e) {
      if (isHalt(e) || e instanceof PortFailure) throw e;
      bad = e instanceof Error ? e.message : String(e);
    }
    if (bad !== undefined) return { type: "image-bad", result: OtaResult.UnsupportedPackage, detail: `image refused: ${bad}` };
    return { type: "image-ok" };
  }

  private bootFacts(): BootFacts {
    const { boot, system } = this.d;
    const store = this.store;
    return guard("boot", () => {
      const runningSlot = boot.runningSlot();
      const attempt = guard("kv", () => store.attempt());
      return {
        runningSlot,
        runningState: boot.runningState(),
        rollback: boot.rollbackAvailable(),
        attempt,
        runningRecord: guard("kv", () => store.running()),
        attemptSlotState: attempt ? boot.slotState(attempt.slot) : undefined,
        attemptRejected: attempt ? guard("kv", () => store.isRejected(attempt.version)) : undefined,
        attemptRejectedCause: attempt ? guard("kv", () => store.rejection(attempt.version)?.cause) : undefined,
        recordSeq: boot.recordSeq(),
        reset: system.resetReason(),
      };
    });
  }

  private part(slot: SlotIndex): FlashPartition {
    return guard("flash", () => this.d.flash.open(SLOT_NAMES[slot]));
  }

  private hash(bytes: Uint8Array): Uint8Array {
    return guard("sha", () => sha256Of(this.d.sha256, bytes));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.d.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The SHA port with every call guarded (for code that takes a Sha256, like the image checks). */
function guardedSha(sha: Sha256): Sha256 {
  return {
    create() {
      const h = guard("sha", () => sha.create());
      return { update: (b) => guard("sha", () => h.update(b)), digest: () => guard("sha", () => h.digest()) };
    },
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

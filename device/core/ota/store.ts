/**
 * What OTA keeps across reboots, in the key-value store (NVS on ESP32): the highest accepted
 * security counter, the versions that were rolled back or failed (never retried), the attempt
 * record of an install in progress (written before setPending, advanced by the trial image),
 * and the version of the manifest the running image was confirmed under.
 */
import { KvError, type KeyValueStore, type SlotIndex } from "../../ports";
import { cborDecode, cborEncode } from "../util/cbor";
import { bytesEqual } from "./bytes";
import { deleteCutSafe, readCutSafe, writeCutSafe } from "../util/cut-safe-kv";

const KEY_COUNTER = "ota.ctr";
const KEY_REJECTED = "ota.rej";
/**
 * Why each version was rejected, and how often the fleet lifted it: [[version, cause, lifts], ...].
 * Apart from ota.rej so that an older image, after a rollback, still reads its plain list.
 */
const KEY_REJECT_CAUSES = "ota.rjc";
/** Cause 6 (unknown): a power cut can look like a crash; only this cause may be lifted. */
const LIFTABLE_CAUSE = 6;
/** Lifts per version: a second ambiguous rejection of the same version is final. */
export const MAX_LIFTS = 1;
const KEY_ATTEMPT = "ota.trial"; // same key as the older 4-field trial record, which still reads
const KEY_RUNNING = "ota.run";
/**
 * Entries kept. Versions at or below the running one are dropped first (the downgrade check
 * refuses them anyway); only past that does the oldest rejection drop off.
 */
export const MAX_REJECTED = 32;

/** How far an install got, as the images involved could record it. */
export const Stage = {
  /** Written by the old image just before setPending. */
  Staged: 0,
  /** The trial image ran (written at its start, before the health check). */
  Trial: 1,
  /** The trial image gave up because the broker could not be reached (then rolled back). */
  Network: 2,
  /** The trial image failed its health check while connected (version rejected, then rolled back). */
  Unhealthy: 3,
  /** The old image judged the trial interrupted (power or network loss): retryable. */
  Interrupted: 4,
  /** Written by the old image right after setPending returned, before it restarts. */
  Pending: 5,
  /** The trial passed its health check: written just before markValid (a cut inside its rewrite is not a crash). */
  Confirming: 6,
} as const;
export type StageCode = (typeof Stage)[keyof typeof Stage];

export interface AttemptRecord {
  version: number;
  slot: SlotIndex;
  securityCounter: number;
  /** BootControl.recordSeq() before setPending: a hint only (ports.ts). */
  seqBefore: number;
  stage: StageCode;
  /** Installs of this version so far, this one included. */
  attempts: number;
  /** SHA-256 of the offer's manifest message (status field 9); empty when unknown. */
  offer: Uint8Array;
}

/** The running image: the slot, the manifest version it was confirmed under, and its build's version. */
export interface RunningRecord {
  slot: SlotIndex;
  version: number;
  /** The build's own version at confirmation: a re-flashed slot with another build ignores the record. */
  codeVersion: number;
}

function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

export class OtaStore {
  constructor(private readonly kv: KeyValueStore) {}

  securityCounter(): number {
    const b = readCutSafe(this.kv, KEY_COUNTER);
    if (!b || b.length !== 4) return 0;
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  /** Raises the stored counter (never lowers it). */
  raiseSecurityCounter(n: number): void {
    if (n <= this.securityCounter()) return;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    this.put(KEY_COUNTER, b);
  }

  rejected(): number[] {
    const b = readCutSafe(this.kv, KEY_REJECTED);
    if (!b) return [];
    try {
      const v = cborDecode(b);
      return Array.isArray(v) ? v.filter(isUint) : [];
    } catch {
      return []; // a corrupt list must not stop the agent; versions are still checked against the counter
    }
  }

  isRejected(version: number): boolean {
    return this.rejected().includes(version);
  }

  /** cause: the trial cause (codes.ts); none for a rejection that is not a trial's (never lifted). */
  reject(version: number, runningVersion = 0, cause?: number): void {
    const list = this.rejected().filter((v) => v !== version && v > runningVersion);
    list.push(version);
    while (list.length > MAX_REJECTED) list.shift();
    this.put(KEY_REJECTED, cborEncode(list));
    // Written second: a cut in between leaves no cause (or the older one), which never lifts more.
    const prev = this.rejection(version);
    this.setCauses(version, runningVersion, [version, cause ?? 0, prev?.lifts ?? 0]);
  }

  /** The cause and lift count kept for a version, if any. */
  rejection(version: number): { cause: number; lifts: number } | undefined {
    const e = this.causes().find((x) => x[0] === version);
    return e ? { cause: e[1], lifts: e[2] } : undefined;
  }

  /** A rejected version whose cause was unknown and that was never lifted. */
  canLift(version: number): boolean {
    const r = this.rejection(version);
    return r !== undefined && r.cause === LIFTABLE_CAUSE && r.lifts < MAX_LIFTS && this.isRejected(version);
  }

  /** The fleet's retry marker: count the lift first (a cut then leaves it rejected, lift used), then un-reject. */
  lift(version: number): void {
    const r = this.rejection(version);
    this.setCauses(version, 0, [version, r?.cause ?? 0, (r?.lifts ?? 0) + 1]);
    this.put(KEY_REJECTED, cborEncode(this.rejected().filter((v) => v !== version)));
  }

  /**
   * Writes, then reads back. NVS can report success for an item that comes out corrupt: after a
   * cut that tore an entry but left its first word erased, ESP-IDF programs the next item over the
   * leftovers and drops it at the next lookup (its old copy already erased). A second write lands
   * on a clean entry; a store that still does not read back is an I/O error, not a silent loss.
   * Every key is written cut-safe (util/cut-safe-kv.ts): on the board a set erases the key first.
   */
  private put(key: string, value: Uint8Array): void {
    for (let i = 0; i < 2; i++) {
      writeCutSafe(this.kv, key, value);
      const back = readCutSafe(this.kv, key);
      if (back && bytesEqual(back, value)) return;
    }
    throw new KvError("io", `kv: "${key}" does not read back what was written`);
  }

  private causes(): number[][] {
    const v = this.decode(KEY_REJECT_CAUSES);
    return Array.isArray(v) ? v.filter((e): e is number[] => Array.isArray(e) && e.length === 3 && e.every(isUint)) : [];
  }

  private setCauses(version: number, runningVersion: number, entry: number[]): void {
    const list = this.causes().filter((e) => e[0] !== version && e[0] > runningVersion);
    list.push(entry);
    while (list.length > MAX_REJECTED) list.shift();
    this.put(KEY_REJECT_CAUSES, cborEncode(list));
  }

  attempt(): AttemptRecord | undefined {
    const v = this.decode(KEY_ATTEMPT);
    if (!Array.isArray(v) || (v.length !== 4 && v.length !== 7) || !v.slice(0, 4).every(isUint) || v[1] > 1) return undefined;
    if (v.length === 4) return { version: v[0], slot: v[1] as SlotIndex, securityCounter: v[2], seqBefore: v[3], stage: Stage.Staged, attempts: 1, offer: new Uint8Array(0) };
    if (!isUint(v[4]) || v[4] > Stage.Confirming || !isUint(v[5]) || !(v[6] instanceof Uint8Array)) return undefined;
    return { version: v[0], slot: v[1] as SlotIndex, securityCounter: v[2], seqBefore: v[3], stage: v[4] as StageCode, attempts: v[5], offer: v[6] };
  }

  /** The older name of the attempt record (the power-cut suites check that none is left behind). */
  trial(): AttemptRecord | undefined {
    return this.attempt();
  }

  setAttempt(t: AttemptRecord): void {
    this.put(KEY_ATTEMPT, cborEncode([t.version, t.slot, t.securityCounter, t.seqBefore, t.stage, t.attempts, t.offer]));
  }

  clearAttempt(): void {
    deleteCutSafe(this.kv, KEY_ATTEMPT);
  }

  running(): RunningRecord | undefined {
    const v = this.decode(KEY_RUNNING);
    if (!Array.isArray(v) || v.length !== 3 || !v.every(isUint) || v[0] > 1) return undefined;
    return { slot: v[0] as SlotIndex, version: v[1], codeVersion: v[2] };
  }

  setRunning(r: RunningRecord): void {
    this.put(KEY_RUNNING, cborEncode([r.slot, r.version, r.codeVersion]));
  }

  /** A corrupt entry reads as absent (it must not stop the agent); a failing read throws. */
  private decode(key: string): unknown {
    const b = readCutSafe(this.kv, key);
    if (!b) return undefined;
    try {
      return cborDecode(b);
    } catch {
      return undefined;
    }
  }
}

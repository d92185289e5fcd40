/**
 * The OTA state machine's data: its model, the inputs it takes (port outcomes and failures
 * included), the ops and effects it asks for. The transition function is machine.ts.
 */
import type { ImageState, ResetReason, SlotIndex } from "../../ports";
import type { TrialCauseCode } from "./codes";
import type { Manifest } from "./manifest";
import type { OtaStatus } from "./status";
import type { AttemptRecord, RunningRecord } from "./store";
import type { Verdict } from "./verify";

export interface OtaPolicy {
  codeVersion: number;
  allowWithoutRollback: boolean;
  healthTimeoutMs: number;
  deferRetryMs: number;
  window: number;
  stallTimeoutMs: number;
  maxStalls: number;
  maxBadBlock: number;
  progressEvery: number;
  /** Installs of one version whose trials were interrupted (power, network) before it is rejected. */
  maxTrials: number;
  /** Wait before installing again after an interrupted trial; doubles with every attempt. */
  retryBackoffMs: number;
  /** Wait before retrying markValid / a rollback whose boot-record write failed. */
  bootRetryMs: number;
}

export type Mode = "starting" | "idle" | "deferred" | "downloading" | "trial" | "restarting" | "broken";
export type TimerKind = "stall" | "defer" | "health" | "retry-valid" | "retry-rollback";
export type PortName = "flash" | "kv" | "sha" | "boot";

export interface Job {
  manifest: Manifest;
  envelope: Uint8Array;
  offer: Uint8Array;
  slot: SlotIndex;
  total: number;
  /** 1 per block held (copied on change: the model is never mutated). */
  have: Uint8Array;
  count: number;
  inflight: number[];
  bad: Record<number, number>;
  stalls: number;
}

export interface Parked {
  bytes: Uint8Array;
  offer: Uint8Array;
}

export interface TrialRun {
  record: AttemptRecord;
  connected: boolean;
  acked: boolean;
  /** The health check failed: why, once decided. */
  cause?: TrialCauseCode;
}

export interface OtaModel {
  mode: Mode;
  /** The version running now: the confirmed manifest's, else the build's. */
  running: number;
  runningSlot: SlotIndex;
  rollback: boolean;
  connected: boolean;
  job?: Job;
  /** An offer to look at again later (deferred, or received during a trial). */
  parked?: Parked;
  /** A version whose trial was interrupted: its next offer waits this long first. */
  hold?: { version: number; ms: number };
  /** The attempt record as last read or written (NVS). */
  attempt?: AttemptRecord;
  trial?: TrialRun;
  timer?: TimerKind;
  /** Versions rejected this boot whose rejection NVS refused: refused all the same (106) until the next boot re-judges them. */
  unsavedRejections?: number[];
}

export interface BootFacts {
  runningSlot: SlotIndex;
  runningState: ImageState;
  rollback: boolean;
  attempt?: AttemptRecord;
  runningRecord?: RunningRecord;
  /** slotState of the attempt's slot (read only when there is an attempt). */
  attemptSlotState?: ImageState;
  /** The attempt's version is in the rejected list already. */
  attemptRejected?: boolean;
  /** The trial cause kept with that rejection (store.ts), when there is one. */
  attemptRejectedCause?: number;
  recordSeq: number;
  reset: ResetReason;
}

export type OtaInput =
  | { type: "boot"; facts: BootFacts }
  | { type: "offer"; bytes: Uint8Array; offer: Uint8Array }
  | { type: "block"; index: number; bytes: Uint8Array; blocked?: string }
  | { type: "resume" }
  | { type: "connected" }
  | { type: "disconnected" }
  | { type: "telemetry-acked" }
  | { type: "timer"; kind: TimerKind }
  // op outcomes
  | { type: "offer-checked"; bytes: Uint8Array; offer: Uint8Array; verdict: Verdict; slot: SlotIndex; eraseBlock: number; blocked?: string }
  | { type: "scanned"; have: Uint8Array }
  | { type: "block-stored"; index: number }
  | { type: "block-bad"; index: number; length: number }
  | { type: "image-ok" }
  | { type: "image-bad"; result: number; detail: string }
  | { type: "done"; op: OtaOp }
  | { type: "failed"; op: OtaOp | { type: "boot-facts" } | { type: "offer-id" }; port: PortName; detail: string; rollbackFailed?: boolean };

export type OtaOp =
  | { type: "check-offer"; bytes: Uint8Array; offer: Uint8Array }
  | { type: "scan"; slot: SlotIndex; manifest: Manifest }
  | { type: "store-block"; slot: SlotIndex; manifest: Manifest; index: number; bytes: Uint8Array }
  | { type: "verify-image"; slot: SlotIndex; manifest: Manifest }
  /** seqBefore -1: the runner fills in recordSeq() as it saves (the record before setPending). */
  | { type: "save-attempt"; record: AttemptRecord }
  | { type: "clear-attempt" }
  | { type: "set-pending"; slot: SlotIndex }
  | { type: "mark-valid" }
  /** Confirmation bookkeeping, in this order: running record, security counter, attempt cleared. */
  | { type: "confirm-records"; running: RunningRecord; counter: number }
  /** cause: the trial's (kept beside the rejection: only cause 6 may be lifted by the fleet). */
  | { type: "reject"; version: number; running: number; cause?: TrialCauseCode }
  /** The offer's retry marker lifts a cause-6 rejection of this version (counted in NVS), then the download starts. */
  | { type: "lift-rejection"; version: number }
  | { type: "rollback" };

export type OtaEffect =
  | { type: "status"; status: OtaStatus }
  | { type: "want"; blocks: number[] }
  | { type: "release"; blocks: number[] }
  | { type: "arm"; kind: TimerKind; ms: number }
  | { type: "disarm" }
  | { type: "log"; level: "info" | "warn"; message: string }
  | { type: "restart" };

export interface StepResult {
  model: OtaModel;
  effects: OtaEffect[];
  op?: OtaOp;
}

export function initialOta(codeVersion: number): OtaModel {
  return { mode: "starting", running: codeVersion, runningSlot: 0, rollback: false, connected: false };
}

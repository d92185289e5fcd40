/**
 * OTA states and results: LwM2M Object 5 (/5/0/3 State, /5/0/5 Update Result), plus the
 * extensions Tether needs, numbered from 100 so they never collide with future LwM2M codes.
 * docs/protocol/ota.md lists them; keep the two in step.
 */
export const OtaState = { Idle: 0, Downloading: 1, Downloaded: 2, Updating: 3 } as const;
export type OtaStateCode = (typeof OtaState)[keyof typeof OtaState];

export const OtaResult = {
  Initial: 0,
  Success: 1,
  NoFlash: 2, // image does not fit the slot
  NoRam: 3,
  ConnectionLost: 4, // download stalled: blocks missing
  IntegrityFailure: 5, // block or image hash mismatch, truncated image
  UnsupportedPackage: 6, // manifest is not valid CBOR / has the wrong shape
  UpdateFailed: 8, // flash write/read error, hash port failure, boot record write failed
  Cancelled: 10, // the offer was withdrawn (empty retained manifest) during its download
  Deferred: 11, // preconditions unmet, trial pending, time unknown
  // Tether extensions
  SignatureRejected: 100,
  UnknownKey: 101,
  DowngradeRefused: 102, // lower version or lower security counter (also: replayed old manifest)
  WrongHardware: 103,
  Expired: 104,
  RolledBack: 105, // the trial image failed its health check or crash-looped
  PreviouslyRejected: 106, // this version was rolled back or failed before: never retried
  RollbackUnavailable: 107, // the bootloader cannot roll back: updates refused
  RollbackFailed: 108, // no valid image to go back to (ESP_ERR_OTA_ROLLBACK_FAILED)
  TrialInterrupted: 109, // the trial ended by power loss or an unreachable broker: retried later (bounded)
} as const;
export type OtaResultCode = (typeof OtaResult)[keyof typeof OtaResult];

/**
 * Why a trial boot ended without confirmation (status field 8, with results 105 and 109).
 * Power and network loss leave the version retryable a bounded number of times; the others reject it.
 */
export const TrialCause = {
  PowerLoss: 1, // power-on or brown-out reset during the trial
  Network: 2, // health check timed out while the broker could not be reached
  Crash: 3, // panic reset (an exception, abort)
  Watchdog: 4, // watchdog reset (a hang)
  Unhealthy: 5, // health check failed while connected (no telemetry acknowledged in time)
  Unknown: 6, // the end could not be read back (otadata evidence lost, or an unexpected reset): treated as a crash
} as const;
export type TrialCauseCode = (typeof TrialCause)[keyof typeof TrialCause];

/** Causes that leave a version retryable. */
export function isRetryableCause(c: number): boolean {
  return c === TrialCause.PowerLoss || c === TrialCause.Network;
}

export function causeName(code: number): string {
  for (const [k, v] of Object.entries(TrialCause)) if (v === code) return k;
  return `cause-${code}`;
}

export function resultName(code: number): string {
  for (const [k, v] of Object.entries(OtaResult)) if (v === code) return k;
  return `result-${code}`;
}

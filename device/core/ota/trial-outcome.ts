/**
 * What became of an install, judged by the old image after a reboot from what the platform can
 * actually tell: the trial slot's image state, whether the boot record's sequence moved, the
 * reset reason of this boot, and how far the attempt record says the install got.
 *
 * The sequence number alone proves nothing on ESP-IDF: the bootloader rewrites the active
 * otadata sector in place (NEW -> PENDING_VERIFY, PENDING_VERIFY -> ABORTED, esp-idf
 * bootloader_utility.c), and a power cut during that rewrite brings the older sector back, so
 * "same sequence as before setPending" can follow a trial that ran and crashed. A power-on
 * reset is believed to be power loss (retryable) only once the trial image has recorded that its
 * agent started and the bootloader's record of the trial's end is intact; where a cut may hide a
 * crash, the end is unknown and the version is rejected (bootloader-spec/SPEC.md invariant 4).
 */
import type { ImageState, ResetReason } from "../../ports";
import { TrialCause, type TrialCauseCode } from "./codes";
import { Stage, type StageCode } from "./store";

export interface TrialFacts {
  /** The attempt record's stage (never Interrupted: that one was judged already). */
  stage: StageCode;
  /** BootControl.slotState of the trial slot, read on the old image. */
  slotState: ImageState;
  /** recordSeq() differs from the one recorded before setPending. */
  seqChanged: boolean;
  /** The reset reason of this boot. */
  reset: ResetReason;
}

export type TrialVerdict = { kind: "not-applied" } | { kind: "ended"; cause: TrialCauseCode };

const NOT_APPLIED: TrialVerdict = { kind: "not-applied" };

/** The cause a reset reason stands for when it ended a trial. */
export function causeOfReset(reset: ResetReason): TrialCauseCode {
  switch (reset) {
    case "power-on":
    case "brownout":
    case "external": // the reset pin: not the image's doing
      return TrialCause.PowerLoss;
    case "panic":
      return TrialCause.Crash;
    case "watchdog":
      return TrialCause.Watchdog;
    default:
      return TrialCause.Unknown; // software, deep sleep, unknown: the agent did not ask for it
  }
}

export function judgeTrial(f: TrialFacts): TrialVerdict {
  if (f.stage === Stage.Unhealthy) return { kind: "ended", cause: TrialCause.Unhealthy };
  if (f.stage === Stage.Network) return { kind: "ended", cause: TrialCause.Network };
  const cause = causeOfReset(f.reset);
  // The bootloader (or the app) ended a trial in this slot, and said so.
  const endedHere = f.slotState === "aborted" || f.slotState === "invalid";
  if (f.stage === Stage.Trial) {
    // The trial image ran, and a reset ended it: the reset reason says how. Where the
    // bootloader's record of the trial was lost (a torn in-place rewrite), a power-on reason
    // may be the cut of that rewrite hiding a crash: unknown, rejected.
    if (endedHere || cause !== TrialCause.PowerLoss) return { kind: "ended", cause };
    return { kind: "ended", cause: TrialCause.Unknown };
  }
  // Staged or Pending: the trial image never got as far as noting that it ran.
  if (endedHere) {
    // Once setPending returned (pending), the slot read "new": an end state is this trial's.
    // Before that (staged), it may be left over from an earlier attempt: ESP-IDF even reuses
    // the same ota_seq for the slot after an abort (esp_rewrite_ota_data), so an unchanged
    // sequence proves nothing either way; only a reset reason that names a crash is believed.
    if (f.stage === Stage.Staged && !f.seqChanged && cause !== TrialCause.Crash && cause !== TrialCause.Watchdog) return NOT_APPLIED;
    // The image booted and never reached the agent: a build that dies at start looks like this,
    // and so does one whose first moments lost power, once the cut of the bootloader's abort
    // hid the panic. Only a reset reason that names the crash is believed; otherwise unknown.
    return { kind: "ended", cause: cause === TrialCause.PowerLoss ? TrialCause.Unknown : cause };
  }
  if (f.stage !== Stage.Pending || f.seqChanged || f.slotState !== "undefined" || cause !== TrialCause.PowerLoss) return NOT_APPLIED;
  // setPending landed (the old image noted it), yet no entry selects the slot and the sequence
  // is back where it was, after a power-on: ESP-IDF's in-place rewrite of the entry was torn,
  // NEW -> PENDING_VERIFY before the image ran, or PENDING_VERIFY -> ABORTED after it crashed.
  // The platform cannot tell these apart: unknown, rejected rather than risk a crash again.
  return { kind: "ended", cause: TrialCause.Unknown };
}

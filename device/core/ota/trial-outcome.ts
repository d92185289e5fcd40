/**
 * What became of an install, judged by the old image after a reboot from what the platform can
 * actually tell: the trial slot's image state, whether the boot record's sequence moved, the
 * reset reason of this boot, and how far the attempt record says the install got.
 *
 * The sequence number alone proves nothing on ESP-IDF: the bootloader rewrites the active
 * otadata sector in place (NEW -> PENDING_VERIFY, PENDING_VERIFY -> ABORTED, esp-idf
 * bootloader_utility.c), and a power cut during that rewrite brings the older sector back, so
 * "same sequence as before setPending" can follow a trial that ran and crashed. The reset
 * reason decides how a trial ended; a power cut right after a crash (during the bootloader's
 * abort) shows as power loss, so a crashed version may be installed again, but only within
 * the bounded retries (bootloader-spec/SPEC.md invariant 4).
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
  // The bootloader (or the app) ended a trial in this slot.
  const endedHere = f.slotState === "aborted" || f.slotState === "invalid";
  if (f.stage === Stage.Trial) {
    // The trial image ran, and a reset ended it: the reset reason says how. A power-on reason
    // counts as power loss even where the bootloader's record of the trial was lost (a torn
    // in-place rewrite), though it may hide a crash just before the cut: that costs at most
    // the bounded retries, never an endless loop.
    return { kind: "ended", cause: causeOfReset(f.reset) };
  }
  // Staged: the trial image never got as far as noting that it ran.
  if (endedHere) {
    // A state left over from an earlier attempt (the sequence did not move) says nothing.
    return f.seqChanged ? { kind: "ended", cause: causeOfReset(f.reset) } : NOT_APPLIED;
  }
  if (f.seqChanged || f.slotState !== "undefined") return NOT_APPLIED;
  // No state for the slot and no sequence change: setPending never landed, or ESP-IDF's in-place
  // rewrite was torn (before the trial ran, or after it crashed before the agent started).
  // Only a power loss can tear it; the install counts as interrupted (bounded retries).
  return causeOfReset(f.reset) === TrialCause.PowerLoss ? { kind: "ended", cause: TrialCause.PowerLoss } : NOT_APPLIED;
}

/**
 * What became of an install, judged by the old image after a reboot from what the platform can
 * actually tell: the trial slot's image state, whether the boot record's sequence rose, the
 * reset reason of this boot, and how far the attempt record says the install got.
 *
 * The sequence number alone proves nothing on ESP-IDF: the bootloader rewrites the active
 * otadata sector in place (NEW -> PENDING_VERIFY, PENDING_VERIFY -> ABORTED, esp-idf
 * bootloader_utility.c), a power cut during that rewrite brings the older sector back, and
 * esp_rewrite_ota_data reuses the same ota_seq for a slot after an abort. The rules, and the
 * windows where a power cut can hide a crash, are bootloader-spec/SPEC.md section 5
 * ("How the app tells what happened") and docs/protocol/ota.md ("Judging a trial"):
 *
 * - network / unhealthy: the trial image recorded its failed health check: that cause;
 * - confirming: the trial passed its health check and a reset came while it marked itself valid
 *   (markValid rewrites the active entry in place): the reset reason decides, a power-on is power loss;
 * - trial: the agent ran; the reset reason decides, but a power-on counts as power loss only when
 *   the bootloader's record of the end (aborted / invalid) is intact: else unknown;
 * - pending (setPending returned), or staged with proof that setPending landed (a new boot-record
 *   entry appeared and ended): the image was started; a crash the reset reason names is believed,
 *   anything else is unknown (a cut at the trial's first moments looks exactly like a crash whose
 *   abort, or whose verdict, was cut): rejected rather than risk booting a crash again;
 * - staged otherwise: setPending may never have landed (a state left over from an earlier attempt
 *   reads the same, ota_seq reused): not applied, unless the reset reason names a crash.
 */
import type { ImageState, ResetReason } from "../../ports";
import { TrialCause, type TrialCauseCode } from "./codes";
import { Stage, type StageCode } from "./store";

export interface TrialFacts {
  /** The attempt record's stage (never Interrupted: that one was judged already). */
  stage: StageCode;
  /** BootControl.slotState of the trial slot, read on the old image. */
  slotState: ImageState;
  /** recordSeq() is above the one recorded before setPending (a new boot-record entry appeared). */
  seqRose: boolean;
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
  const namesCrash = cause === TrialCause.Crash || cause === TrialCause.Watchdog;
  // The bootloader (or the app) ended a trial in this slot, and said so.
  const endedHere = f.slotState === "aborted" || f.slotState === "invalid";
  // Healthy, and cut short while marking itself valid: nothing but markValid ran after the check.
  if (f.stage === Stage.Confirming) return { kind: "ended", cause };
  if (f.stage === Stage.Trial) {
    // The agent ran; where the bootloader's record of the end was lost (a torn in-place
    // rewrite), a power-on may be the cut of that rewrite hiding a crash: unknown.
    if (endedHere || cause !== TrialCause.PowerLoss) return { kind: "ended", cause };
    return { kind: "ended", cause: TrialCause.Unknown };
  }
  const landed = f.stage === Stage.Pending || (f.seqRose && endedHere);
  if (!landed) return endedHere && namesCrash ? { kind: "ended", cause } : NOT_APPLIED;
  // The image was started and never noted that its agent ran.
  return { kind: "ended", cause: namesCrash ? cause : TrialCause.Unknown };
}

/**
 * The reference bootloader: picks the slot to boot from the boot records and the slot images,
 * following bootloader-spec/SPEC.md rule by rule (the R-numbers below). Every record write
 * happens before it returns, i.e. before the app runs. Pure over the Flash and Sha256 ports,
 * so host-sim runs it on simulated flash and cuts power inside it too.
 */
import type { Flash, FlashPartition, Sha256, SlotIndex } from "../../device/ports";
import { verifySlotImage, type ImageHeader, type SlotCheck } from "./image";
import { freshRecord, readRecords, SlotStateCode as S, stateName, writeRecord, type BootRecord, type SlotStateName } from "./record";

export const SLOT_PARTITIONS = ["ota_0", "ota_1"] as const;
/** N: trial boots allowed before an unconfirmed image is aborted (ESP-IDF behaves as N = 1). */
export const DEFAULT_MAX_TRIAL_BOOTS = 3;

export interface BootloaderConfig {
  /** false models a bootloader built without CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE. */
  rollback?: boolean;
  maxTrialBoots?: number;
  /**
   * Stands in for verifySlotImage and must return what it would: lets a simulator reuse the
   * result for a slot it knows is byte-identical to one already verified (a fleet's factory image).
   */
  verify?: (part: FlashPartition, sha256: Sha256) => SlotCheck;
}

export type BootOutcome =
  | {
      ok: true;
      slot: SlotIndex;
      header: ImageHeader;
      /** The slot's state after the bootloader's own writes ("undefined" without rollback). */
      state: SlotStateName | "undefined";
      rollback: boolean;
      /** Why this slot: the rule that decided. */
      rule: string;
    }
  | { ok: false; reason: string };

export function otherSlot(s: SlotIndex): SlotIndex {
  return s === 0 ? 1 : 0;
}

export function runBootloader(flash: Flash, sha256: Sha256, config: BootloaderConfig = {}): BootOutcome {
  const rollback = config.rollback ?? true;
  const maxTrialBoots = config.maxTrialBoots ?? DEFAULT_MAX_TRIAL_BOOTS;
  const otadata = flash.open("otadata");
  const slots: FlashPartition[] = [flash.open(SLOT_PARTITIONS[0]), flash.open(SLOT_PARTITIONS[1])];
  const checks = new Map<SlotIndex, ReturnType<typeof verifySlotImage>>();
  const verify = (s: SlotIndex) => {
    let c = checks.get(s);
    if (!c) checks.set(s, (c = (config.verify ?? verifySlotImage)(slots[s], sha256)));
    return c;
  };
  const booted = (slot: SlotIndex, state: SlotStateName | "undefined", rule: string): BootOutcome => {
    const c = verify(slot);
    if (!c.ok) throw new Error("unreachable: booting an unverified slot");
    return { ok: true, slot, header: c.header, state: rollback ? state : "undefined", rollback, rule };
  };

  // R1: the newest valid copy of the boot record wins; none (fresh flash) reads as slot 0 valid.
  const rec: BootRecord = readRecords(otadata).latest ?? freshRecord(maxTrialBoots);
  const put = (next: Omit<BootRecord, "seq">) => writeRecord(otadata, next);
  const c = rec.bootSlot;
  const o = otherSlot(c);

  if (!rollback) {
    // R7: without rollback support, states are ignored: the selected slot if it verifies, else the other.
    if (verify(c).ok) return booted(c, "undefined", "R7 selected");
    if (verify(o).ok) return booted(o, "undefined", "R7 other");
    return { ok: false, reason: "no slot holds a verified image" };
  }

  const st = rec.states[c];
  const withState = (slot: SlotIndex, code: number, extra: Partial<BootRecord> = {}) => {
    const states: [number, number] = [rec.states[0], rec.states[1]];
    states[slot] = code;
    return { bootSlot: rec.bootSlot, states, trialBoots: rec.trialBoots, maxTrialBoots: rec.maxTrialBoots, ...extra };
  };

  if (st === S.New) {
    // R3: a new image becomes pending-verify, first trial boot counted before the app runs.
    if (verify(c).ok) {
      put(withState(c, S.PendingVerify, { trialBoots: 1, maxTrialBoots }));
      return booted(c, "pending-verify", "R3 trial 1");
    }
    rec.states = put(withState(c, S.Invalid, { trialBoots: 0 })).states;
  } else if (st === S.PendingVerify) {
    // R4: an unconfirmed trial image gets at most N boots, then it is aborted.
    if (rec.trialBoots >= rec.maxTrialBoots) {
      rec.states = put(withState(c, S.Aborted, { trialBoots: 0 })).states;
    } else if (verify(c).ok) {
      put(withState(c, S.PendingVerify, { trialBoots: rec.trialBoots + 1 }));
      return booted(c, "pending-verify", `R4 trial ${rec.trialBoots + 1}`);
    } else {
      rec.states = put(withState(c, S.Invalid, { trialBoots: 0 })).states;
    }
  } else if (st === S.Valid) {
    // R2: a valid image boots, after its hash check.
    if (verify(c).ok) return booted(c, "valid", "R2 valid");
    rec.states = put(withState(c, S.Invalid)).states;
  }

  // R5: fall back to the other slot when it is valid and verifies.
  if (rec.states[o] === S.Valid && verify(o).ok) {
    put({ bootSlot: o, states: [rec.states[0], rec.states[1]], trialBoots: 0, maxTrialBoots: rec.maxTrialBoots });
    return booted(o, "valid", "R5 fallback");
  }
  // R6: last resort, rather than a brick: any slot whose image verifies becomes the valid one.
  for (const s of [c, o] as SlotIndex[]) {
    if (verify(s).ok) {
      const states: [number, number] = [rec.states[0], rec.states[1]];
      states[s] = S.Valid;
      put({ bootSlot: s, states, trialBoots: 0, maxTrialBoots: rec.maxTrialBoots });
      return booted(s, "valid", "R6 last resort");
    }
  }
  return { ok: false, reason: `no slot holds a verified image (records: ${stateName(rec.states[0])}, ${stateName(rec.states[1])})` };
}

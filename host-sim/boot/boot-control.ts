/**
 * The BootControl port for a virtual device, over the boot records in simulated `otadata`
 * (what esp_ota_* does over the real otadata partition). Built from the reference
 * bootloader's outcome for this boot.
 */
import { RollbackFailed, type BootControl, type Flash, type ImageState, type SlotIndex } from "../../device/ports";
import { otherSlot } from "../../bootloader-spec/reference/bootloader";
import { freshRecord, readRecords, SlotStateCode as S, stateName, writeRecord, type BootRecord } from "../../bootloader-spec/reference/record";
import { DEFAULT_MAX_TRIAL_BOOTS } from "../../bootloader-spec/reference/bootloader";

export class SimBootControl implements BootControl {
  constructor(
    private readonly flash: Flash,
    private readonly slot: SlotIndex,
    private readonly rollback: boolean,
    /** Restarts the device (host-sim unwinds the current turn). */
    private readonly restart: () => void,
  ) {}

  runningSlot(): SlotIndex {
    return this.slot;
  }

  runningState(): ImageState {
    return this.slotState(this.slot);
  }

  slotState(slot: SlotIndex): ImageState {
    if (!this.rollback) return "undefined";
    const name = stateName(this.current().states[slot]);
    return name === "empty" ? "undefined" : name;
  }

  recordSeq(): number {
    return this.record()?.seq ?? 0;
  }

  rollbackAvailable(): boolean {
    return this.rollback;
  }

  setPending(slot: SlotIndex): void {
    if (slot === this.slot) throw new Error("setPending: cannot trial the running slot");
    const rec = this.current();
    const states: [number, number] = [rec.states[0], rec.states[1]];
    states[slot] = S.New;
    writeRecord(this.otadata(), { bootSlot: slot, states, trialBoots: 0, maxTrialBoots: rec.maxTrialBoots });
  }

  markValid(): void {
    const rec = this.current();
    if (rec.bootSlot === this.slot && rec.states[this.slot] === S.Valid && rec.trialBoots === 0) return;
    const states: [number, number] = [rec.states[0], rec.states[1]];
    states[this.slot] = S.Valid;
    writeRecord(this.otadata(), { bootSlot: this.slot, states, trialBoots: 0, maxTrialBoots: rec.maxTrialBoots });
  }

  markInvalidAndRollback(): void {
    const other = otherSlot(this.slot);
    const rec = this.current();
    if (!this.rollback) throw new RollbackFailed("rollback unavailable: bootloader built without rollback support");
    if (rec.states[other] !== S.Valid) throw new RollbackFailed(`no valid image in slot ${other} to roll back to`);
    const states: [number, number] = [rec.states[0], rec.states[1]];
    states[this.slot] = S.Invalid;
    writeRecord(this.otadata(), { bootSlot: other, states, trialBoots: 0, maxTrialBoots: rec.maxTrialBoots });
    this.restart();
  }

  private otadata() {
    return this.flash.open("otadata");
  }

  private record(): BootRecord | undefined {
    return readRecords(this.otadata()).latest;
  }

  /** The record, or the bootloader's fresh-flash default (slot 0 valid). */
  private current(): BootRecord {
    return this.record() ?? freshRecord(DEFAULT_MAX_TRIAL_BOOTS);
  }
}

/**
 * The two boot models a virtual device can boot with, behind one interface:
 * - "reference": the reference bootloader of bootloader-spec/ (records written to the older copy,
 *   N trial boots);
 * - "esp-idf": ESP-IDF's otadata and bootloader as the board runs them (in-place rewrites of the
 *   active sector, CRC over ota_seq only, one trial boot).
 * Each runs its bootloader on the device's simulated flash, builds the BootControl port the app
 * gets, factory-flashes a device, and says what its records must look like (the power-cut
 * suites' invariant 2).
 */
import type { BootControl, Flash, ImageState, Sha256, SlotIndex } from "../../device/ports";
import { runBootloader, type BootloaderConfig, type BootOutcome } from "../../bootloader-spec/reference/bootloader";
import { readRecords, SlotStateCode as S, stateName } from "../../bootloader-spec/reference/record";
import { SimBootControl } from "./boot-control";
import { runEspIdfBootloader } from "./esp-idf-bootloader";
import { EspIdfBootControl } from "./esp-idf-boot-control";
import { activeOtadata, blankEntry, imgStateName, OtaImgState, readOtadata, seqCrc, slotOfSeq, stateOfSlot, writeEntry } from "./esp-idf-otadata";
import { provision, writeSlot } from "./provision";

export const BOOT_MODELS = ["reference", "esp-idf"] as const;
export type BootModelName = (typeof BOOT_MODELS)[number];

export interface BootModel {
  readonly name: BootModelName;
  /** The bootloader: picks a slot, writing its records first, as before the app runs. */
  boot(flash: Flash, sha256: Sha256, config?: BootloaderConfig): BootOutcome;
  /** The BootControl port for the app that `boot` started. */
  control(flash: Flash, sha256: Sha256, outcome: { slot: SlotIndex; rollback: boolean }, restart: () => void, config?: BootloaderConfig): BootControl;
  /** Factory flash: `image` into `slot`, and the records a factory leaves for it. */
  provision(flash: Flash, image: Uint8Array, slot?: SlotIndex, config?: BootloaderConfig): void;
  /** The recorded state of `slot` as the app reads it. */
  slotState(flash: Flash, slot: SlotIndex): ImageState;
  /** What is wrong with the records after a boot of `bootedSlot` (or at rest): invariant 2. */
  recordProblems(flash: Flash, bootedSlot?: SlotIndex): string[];
  /**
   * The boot of `bootedSlot` happened the way the model's own rules allow but with no trial the
   * bootloader would end: ESP-IDF's documented hazard (SPEC.md section 6), a torn ota_state with
   * ota_seq and its CRC intact. Empty for the reference bootloader.
   */
  recordHazards(flash: Flash, bootedSlot: SlotIndex): string[];
}

const reference: BootModel = {
  name: "reference",
  boot: (flash, sha256, config) => runBootloader(flash, sha256, config),
  control: (flash, _sha256, o, restart) => new SimBootControl(flash, o.slot, o.rollback, restart),
  provision: (flash, image, slot = 0, config) => provision(flash, image, slot, config?.maxTrialBoots),
  slotState(flash, slot) {
    const r = readRecords(flash.open("otadata")).latest;
    const name = r ? stateName(r.states[slot]) : slot === 0 ? "valid" : "empty";
    return name === "empty" ? "undefined" : name;
  },
  recordProblems(flash, bootedSlot) {
    const out: string[] = [];
    const r = readRecords(flash.open("otadata"));
    if (!r.latest) return ["no valid boot record copy"];
    const [a, b] = r.copies;
    if (a && b && Math.abs(a.seq - b.seq) !== 1) out.push(`record copies out of step: seq ${a.seq} and ${b.seq}`);
    if (bootedSlot !== undefined) {
      if (r.latest.bootSlot !== bootedSlot) out.push(`record selects slot ${r.latest.bootSlot} but slot ${bootedSlot} booted`);
      const st = r.latest.states[bootedSlot];
      if (st !== S.Valid && st !== S.PendingVerify) out.push(`booted slot ${bootedSlot} has state ${st}`);
    }
    return out;
  },
  recordHazards: () => [],
};

const espIdf: BootModel = {
  name: "esp-idf",
  boot: (flash, sha256, config) => runEspIdfBootloader(flash, sha256, config),
  control: (flash, sha256, o, restart, config) => new EspIdfBootControl(flash, sha256, o.slot, o.rollback, restart, config?.verify),
  provision(flash, image, slot = 0) {
    // esptool writes the app and ota_data_initial.bin (all 0xFF): the first boot picks ota_0 and
    // writes its entry (set_actual_ota_seq). A factory image in ota_1 needs an entry saying so.
    writeSlot(flash, slot, image);
    const otadata = flash.open("otadata");
    otadata.eraseBlock(0);
    otadata.eraseBlock(1);
    if (slot === 1) writeEntry(otadata, 0, { ...blankEntry(), seq: 2, state: OtaImgState.Valid, crc: seqCrc(2) });
  },
  slotState(flash, slot) {
    const raw = stateOfSlot(readOtadata(flash.open("otadata")), slot);
    return raw === undefined ? "undefined" : imgStateName(raw);
  },
  recordProblems(flash, bootedSlot) {
    const entries = readOtadata(flash.open("otadata"));
    const active = activeOtadata(entries);
    if (active === -1) return ["no valid otadata entry"];
    if (bootedSlot === undefined) return [];
    const out: string[] = [];
    const e = entries[active];
    if (slotOfSeq(e.seq) !== bootedSlot) out.push(`otadata[${active}] (seq ${e.seq}) selects slot ${slotOfSeq(e.seq)} but slot ${bootedSlot} booted`);
    return out;
  },
  recordHazards(flash, bootedSlot) {
    const entries = readOtadata(flash.open("otadata"));
    const active = activeOtadata(entries);
    if (active === -1 || slotOfSeq(entries[active].seq) !== bootedSlot) return [];
    // A state outside esp_ota_img_states_t, CRC good (it covers ota_seq only): booted, no trial.
    const state = entries[active].state;
    return imgStateName(state) === "undefined" && state !== OtaImgState.Undefined ? [`slot ${bootedSlot} booted with a torn ota_state ${state} (seq ${entries[active].seq}, CRC intact): no trial`] : [];
  },
};

export function bootModel(name: BootModelName = "reference"): BootModel {
  if (name === "reference") return reference;
  if (name === "esp-idf") return espIdf;
  throw new Error(`unknown boot model "${String(name)}" (${BOOT_MODELS.join(", ")})`);
}

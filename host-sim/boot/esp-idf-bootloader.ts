/**
 * ESP-IDF's second-stage bootloader as it picks an app, on simulated flash: the second boot
 * model beside the reference bootloader (bootloader-spec/reference), same Flash and Sha256 ports,
 * same BootOutcome. Follows ESP-IDF v5.4.1 (read, not copied) with a partition table like
 * manifests/esp32/partitions.csv (otadata, ota_0, ota_1, no factory or test app):
 *
 * - bootloader_utility_get_selected_boot_partition: with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE,
 *   *every* entry in PENDING_VERIFY is rewritten in place as ABORTED (one unconfirmed reset
 *   aborts the trial at once); then, when both entries are invalid (erased seq, INVALID or
 *   ABORTED), it starts at ota_0 and remembers "initial contents" if both are erased or have a
 *   bad CRC; otherwise the active entry (bootloader_common_get_active_otadata: good CRC, not
 *   invalid, highest ota_seq) selects slot (ota_seq - 1) % 2, and a NEW entry is rewritten in
 *   place as PENDING_VERIFY before the app runs; no active entry → try every slot;
 * - bootloader_utility_load_boot_image: from the selected index down to ota_0, then upwards; the
 *   first image that loads (esp_image_verify: here the slot image check) boots, whatever its
 *   otadata state; set_actual_ota_seq then writes {seq = index + 1, VALID} into sector 0 when
 *   the otadata held initial contents;
 * - nothing loads: bootloader_reset(), a reset loop on the board, a brick here.
 *
 * Every write is write_otadata: erase the sector, write 32 bytes, in place, never "the other copy".
 */
import type { Flash, FlashPartition, Sha256, SlotIndex } from "../../device/ports";
import { SLOT_PARTITIONS, type BootloaderConfig, type BootOutcome } from "../../bootloader-spec/reference/bootloader";
import { verifySlotImage, type SlotCheck } from "../../bootloader-spec/reference/image";
import {
  activeOtadata,
  blankEntry,
  crcOk,
  imgStateName,
  OTA_SEQ_ERASED,
  OtaImgState,
  readOtadata,
  selectInvalid,
  seqCrc,
  slotOfSeq,
  stateOfSlot,
  writeEntry,
} from "./esp-idf-otadata";

/** The reference's options; maxTrialBoots does not apply (ESP-IDF allows exactly one trial boot). */
export type EspIdfBootloaderConfig = Omit<BootloaderConfig, "maxTrialBoots">;

export function runEspIdfBootloader(flash: Flash, sha256: Sha256, config: EspIdfBootloaderConfig = {}): BootOutcome {
  const rollback = config.rollback ?? true;
  const otadata = flash.open("otadata");
  const slots: FlashPartition[] = [flash.open(SLOT_PARTITIONS[0]), flash.open(SLOT_PARTITIONS[1])];
  const checks = new Map<SlotIndex, SlotCheck>();
  const loads = (s: SlotIndex): SlotCheck => {
    let c = checks.get(s);
    if (!c) checks.set(s, (c = (config.verify ?? verifySlotImage)(slots[s], sha256)));
    return c;
  };

  const entries = readOtadata(otadata);
  const notes: string[] = [];
  if (rollback) {
    for (let i = 0; i < 2; i++) {
      if (entries[i].state === OtaImgState.PendingVerify) {
        entries[i].state = OtaImgState.Aborted;
        writeEntry(otadata, i, entries[i]);
        notes.push(`otadata[${i}] PENDING_VERIFY→ABORTED`);
      }
    }
  }

  let start: SlotIndex | "all";
  let initialContents = false;
  if (selectInvalid(entries[0]) && selectInvalid(entries[1])) {
    start = 0;
    initialContents = entries.every((e) => e.seq === OTA_SEQ_ERASED || !crcOk(e));
    notes.push(initialContents ? "otadata initial" : "no valid otadata entry");
  } else {
    const active = activeOtadata(entries);
    if (active === -1) {
      start = "all";
      notes.push("otadata invalid, trying all slots");
    } else {
      start = slotOfSeq(entries[active].seq);
      notes.push(`otadata[${active}] seq ${entries[active].seq}`);
      if (rollback && entries[active].state === OtaImgState.New) {
        entries[active].state = OtaImgState.PendingVerify;
        writeEntry(otadata, active, entries[active]);
        notes.push("NEW→PENDING_VERIFY");
      }
    }
  }

  // load_boot_image: the selected slot, then down to ota_0, then upwards (no factory, no test app).
  const order: SlotIndex[] = start === 1 ? [1, 0] : [0, 1];
  for (const s of order) {
    const c = loads(s);
    if (!c.ok) continue;
    if (initialContents) {
      // set_actual_ota_seq
      const e = { ...blankEntry(), seq: s + 1, state: OtaImgState.Valid };
      e.crc = seqCrc(e.seq);
      writeEntry(otadata, 0, e);
      notes.push(`set ota_seq ${e.seq}`);
    }
    if (start !== "all" && s !== start) notes.push(`slot ${start} does not load`);
    const raw = stateOfSlot(readOtadata(otadata), s);
    return { ok: true, slot: s, header: c.header, state: rollback && raw !== undefined ? imgStateName(raw) : "undefined", rollback, rule: `esp-idf: ${notes.join(", ")}` };
  }
  return { ok: false, reason: `esp-idf: no bootable app partition (${notes.join(", ")})` };
}

/**
 * The BootControl port over ESP-IDF's otadata model (esp-idf-otadata.ts): what esp_ota_* in
 * components/app_update/esp_ota_ops.c (ESP-IDF v5.4.1) does, as the Tether ESP32 binding
 * (device/platform/moddable/native/tether-esp.c) calls it:
 *
 * - setPending → esp_ota_set_boot_partition: image_validate (ESP_ERR_OTA_VALIDATE_FAILED), then
 *   esp_rewrite_ota_data: the sector *other than the active one* gets state NEW (UNDEFINED without
 *   rollback support) and the smallest seq above the active one that maps to the slot; with no
 *   active entry, sector 0 gets seq = slot + 1;
 * - markValid → esp_ota_mark_app_valid_cancel_rollback (esp_ota_current_ota_is_workable(true)):
 *   the *active* entry rewritten in place, same seq, state VALID, unless it is VALID already;
 * - markInvalidAndRollback → esp_ota_mark_app_invalid_rollback_and_reboot: unless
 *   esp_ota_check_rollback_is_possible (the other entry valid and its slot's image verifying),
 *   ESP_ERR_OTA_ROLLBACK_FAILED with no write and no restart; else the active entry rewritten in
 *   place as INVALID, then esp_restart;
 * - slotState → esp_ota_get_state_partition (first entry mapping to the slot with a good CRC);
 * - recordSeq → the binding's highest ota_seq with a good CRC, whatever its state.
 * Failures the binding raises surface as BootError (the name device/core/ota treats as a port
 * failure) or RollbackFailed, as device/platform/moddable/boot.ts raises them.
 */
import { RollbackFailed, type BootControl, type Flash, type ImageState, type Sha256, type SlotIndex } from "../../device/ports";
import { SLOT_PARTITIONS, type BootloaderConfig } from "../../bootloader-spec/reference/bootloader";
import { verifySlotImage } from "../../bootloader-spec/reference/image";
import { activeOtadata, highestSeq, imgStateName, OTA_APP_COUNT, OtaImgState, readOtadata, selectValid, seqCrc, slotOfSeq, stateOfSlot, writeEntry } from "./esp-idf-otadata";

/** What the ESP32 adapter throws for a failed esp_ota_* call (device/platform/moddable/boot.ts). */
export class SimBootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BootError";
  }
}

export class EspIdfBootControl implements BootControl {
  constructor(
    private readonly flash: Flash,
    private readonly sha256: Sha256,
    private readonly slot: SlotIndex,
    private readonly rollback: boolean,
    /** Restarts the device (host-sim unwinds the current turn). */
    private readonly restart: () => void,
    private readonly verify: NonNullable<BootloaderConfig["verify"]> = verifySlotImage,
  ) {}

  runningSlot(): SlotIndex {
    return this.slot;
  }

  runningState(): ImageState {
    return this.slotState(this.slot);
  }

  /** As stored, with or without rollback support (without it, esp_ota_set_boot_partition writes UNDEFINED). */
  slotState(slot: SlotIndex): ImageState {
    const raw = stateOfSlot(readOtadata(this.otadata()), slot);
    return raw === undefined ? "undefined" : imgStateName(raw);
  }

  recordSeq(): number {
    return highestSeq(readOtadata(this.otadata()));
  }

  rollbackAvailable(): boolean {
    return this.rollback;
  }

  setPending(slot: SlotIndex): void {
    if (slot === this.slot) throw new SimBootError(`boot: slot ${slot} is the running slot`);
    if (!this.imageLoads(slot)) throw new SimBootError(`boot: cannot boot slot ${slot}: ESP_ERR_OTA_VALIDATE_FAILED`);
    const otadata = this.otadata();
    const entries = readOtadata(otadata);
    const active = activeOtadata(entries);
    const state = this.rollback ? OtaImgState.New : OtaImgState.Undefined;
    let sector = 0;
    let seq = slot + 1;
    if (active !== -1) {
      // The smallest (slot + 1) % count + i * count that is not below the active seq.
      const base = (slot + 1) % OTA_APP_COUNT;
      let i = 0;
      while (entries[active].seq > base + i * OTA_APP_COUNT) i++;
      seq = base + i * OTA_APP_COUNT;
      sector = active === 0 ? 1 : 0;
    }
    writeEntry(otadata, sector, { ...entries[sector], seq, state, crc: seqCrc(seq) });
  }

  markValid(): void {
    const otadata = this.otadata();
    const entries = readOtadata(otadata);
    const active = activeOtadata(entries);
    if (active === -1) throw new SimBootError("boot: mark valid: ESP_FAIL (running firmware is factory)");
    if (entries[active].state === OtaImgState.Valid) return;
    writeEntry(otadata, active, { ...entries[active], state: OtaImgState.Valid });
  }

  markInvalidAndRollback(): void {
    const otadata = this.otadata();
    const entries = readOtadata(otadata);
    const active = activeOtadata(entries);
    if (active === -1) throw new RollbackFailed("boot: rollback: ESP_FAIL (running firmware is factory)");
    const last = active === 0 ? 1 : 0;
    if (!selectValid(entries[last]) || !this.imageLoads(slotOfSeq(entries[last].seq))) {
      throw new RollbackFailed("boot: rollback: ESP_ERR_OTA_ROLLBACK_FAILED");
    }
    writeEntry(otadata, active, { ...entries[active], state: OtaImgState.Invalid });
    this.restart();
  }

  private imageLoads(slot: SlotIndex): boolean {
    return this.verify(this.flash.open(SLOT_PARTITIONS[slot]), this.sha256).ok;
  }

  private otadata() {
    return this.flash.open("otadata");
  }
}

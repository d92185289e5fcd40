/**
 * ESP-IDF's A/B boot behaviour with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, as the fakes see it:
 * otadata records (state per slot, ota_seq), esp_ota_set_boot_partition, mark valid /
 * invalid-and-rollback, and what the bootloader does on every reset:
 * NEW -> PENDING_VERIFY (first trial boot); PENDING_VERIFY again -> ABORTED, boot the other slot.
 * Image validity is modelled by the ESP image magic byte (0xE9) that esp_image_verify checks first.
 */
import type { SimFlash } from "../../../host-sim/virtual/flash";

export const IMG_NEW = 0;
export const IMG_PENDING_VERIFY = 1;
export const IMG_VALID = 2;
export const IMG_INVALID = 3;
export const IMG_ABORTED = 4;
/** No otadata entry / ESP_OTA_IMG_UNDEFINED, as the binding reports it. */
export const IMG_NONE = -1;
export const ESP_IMAGE_MAGIC = 0xe9;

export class BootModel {
  /** Per-slot state; IMG_NONE until otadata records one. */
  readonly states: [number, number] = [IMG_NONE, IMG_NONE];
  bootSlot: 0 | 1 = 0;
  running: 0 | 1 = 0;
  seq = 0;

  constructor(
    private readonly flash: SimFlash,
    readonly rollbackEnabled: boolean,
  ) {}

  /** A serial flash of a factory image into `slot` (blank otadata). */
  flashFactory(slot: 0 | 1, label = "factory"): void {
    const part = this.flash.open(slot === 0 ? "ota_0" : "ota_1");
    for (let i = 0; i < part.size / part.blockSize; i++) part.eraseBlock(i);
    const image = new Uint8Array(16);
    image[0] = ESP_IMAGE_MAGIC;
    for (let i = 0; i < label.length && i < 15; i++) image[i + 1] = label.charCodeAt(i);
    part.write(0, image);
    this.states[0] = this.states[1] = IMG_NONE;
    this.bootSlot = this.running = slot;
    this.seq = 0;
  }

  other(slot: 0 | 1): 0 | 1 {
    return slot === 0 ? 1 : 0;
  }

  imageValid(slot: 0 | 1): boolean {
    return this.flash.open(slot === 0 ? "ota_0" : "ota_1").read(0, 1)[0] === ESP_IMAGE_MAGIC;
  }

  /** esp_ota_set_boot_partition. */
  setBootSlot(slot: 0 | 1): void {
    if (slot === this.running) throw new Error("slot is running");
    if (!this.imageValid(slot)) throw new Error("ESP_ERR_OTA_VALIDATE_FAILED");
    this.bootSlot = slot;
    this.states[slot] = this.rollbackEnabled ? IMG_NEW : IMG_NONE;
    this.seq++;
  }

  /** esp_ota_mark_app_valid_cancel_rollback: a state-only rewrite (same ota_seq). */
  markValid(): void {
    if (this.rollbackEnabled && this.states[this.running] === IMG_PENDING_VERIFY) this.states[this.running] = IMG_VALID;
  }

  /** esp_ota_mark_app_invalid_rollback_and_reboot, minus the reboot (the caller restarts). */
  markInvalid(): void {
    const other = this.other(this.running);
    const s = this.states[other];
    if (!this.imageValid(other) || s === IMG_INVALID || s === IMG_ABORTED) throw new Error("ESP_ERR_OTA_ROLLBACK_FAILED");
    this.states[this.running] = IMG_INVALID;
    this.bootSlot = other;
    this.seq++;
  }

  /** The second-stage bootloader, on every reset. */
  bootloader(): void {
    let slot = this.bootSlot;
    if (this.rollbackEnabled && this.states[slot] === IMG_PENDING_VERIFY) {
      // The trial booted once and never confirmed itself: abort it.
      this.states[slot] = IMG_ABORTED;
      slot = this.other(slot);
      this.bootSlot = slot;
      this.seq++;
    } else if (this.rollbackEnabled && this.states[slot] === IMG_NEW) {
      this.states[slot] = IMG_PENDING_VERIFY;
    }
    if (!this.imageValid(slot)) slot = this.other(slot);
    this.running = slot;
  }
}

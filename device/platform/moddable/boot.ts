/**
 * BootControl port over the tether-esp native binding (esp_ota_* in native/tether-esp.c).
 *
 * Rollback support is a build-time property of the bootloader (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE,
 * esp-idf #7859): an image built without it reads every state as undefined and never rolls back.
 * rollbackAvailable() reports what this image was built with; the agent also checks that a
 * trial boot really reads "pending-verify" before trusting it.
 */
import * as esp from "tether-esp";
import { RollbackFailed, isHalt, type BootControl, type ImageState, type SlotIndex } from "../../ports";
import { setErrorName } from "../../core/util/error-name";

/** esp_ota_img_states_t, in order; -1 (our binding's "no state") maps to "undefined". */
const STATES: readonly ImageState[] = ["new", "pending-verify", "valid", "invalid", "aborted"];

/**
 * The binding throws plain Errors (xsUnknownError). Anything else passing through (a restart
 * unwinding the stack in a simulator, a power cut) is not ours to translate.
 */
function nativeFailure(e: unknown): e is Error {
  return e instanceof Error && e.name === "Error" && !isHalt(e);
}

export class BootError extends Error {
  constructor(readonly code: "set-boot-failed" | "mark-valid-failed" | "no-slot", message: string) {
    super(message);
    setErrorName(this, "BootError");
  }
}

export class EspBootControl implements BootControl {
  runningSlot(): SlotIndex {
    const slot = esp.runningSlot();
    if (slot !== 0 && slot !== 1) throw new BootError("no-slot", `boot: running from a non-OTA partition (${slot}); flash with the Tether partition table`);
    return slot;
  }

  runningState(): ImageState {
    return this.slotState(this.runningSlot());
  }

  slotState(slot: SlotIndex): ImageState {
    return STATES[esp.slotState(slot)] ?? "undefined";
  }

  /**
   * The highest ota_seq of a CRC-valid otadata entry. ESP-IDF bumps it only when a boot
   * partition is set (setPending); mark valid, mark invalid (rollback) and the bootloader's
   * NEW -> PENDING_VERIFY -> ABORTED rewrite the active entry in place with the same sequence,
   * and a torn rewrite can bring the older entry back. A hint only (ports.ts): the agent decides
   * from slotState, the reset reason and its own attempt record.
   */
  recordSeq(): number {
    return esp.recordSeq();
  }

  rollbackAvailable(): boolean {
    return esp.rollbackEnabled();
  }

  setPending(slot: SlotIndex): void {
    if (slot === this.runningSlot()) throw new BootError("set-boot-failed", `boot: slot ${slot} is the running slot`);
    try {
      esp.setBootSlot(slot);
    } catch (e) {
      if (!nativeFailure(e)) throw e;
      throw new BootError("set-boot-failed", `boot: cannot boot slot ${slot}: ${e.message}`);
    }
  }

  markValid(): void {
    try {
      esp.markValid();
    } catch (e) {
      if (!nativeFailure(e)) throw e;
      throw new BootError("mark-valid-failed", `boot: mark valid: ${e.message}`);
    }
  }

  markInvalidAndRollback(): void {
    // Returns only on failure: ESP_ERR_OTA_ROLLBACK_FAILED means no valid image to go back to.
    // The caller must then keep running this image instead of looping through reboots.
    try {
      esp.markInvalidAndReboot();
    } catch (e) {
      if (!nativeFailure(e)) throw e;
      throw new RollbackFailed(`boot: rollback: ${e.message}`);
    }
    throw new RollbackFailed("boot: rollback returned without rebooting");
  }
}

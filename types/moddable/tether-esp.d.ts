/**
 * `tether-esp` — Tether's own native module (device/platform/moddable/native/tether-esp.c/.js),
 * for the ESP-IDF calls Moddable does not expose. Written to Moddable's native module
 * conventions (documentation/xs/XS in C.md: host functions declared in JS with
 * `function f() @ "xs_name";`, implemented with xsmc in C).
 */
declare module "tether-esp" {
  /** The manifest `config` ("mc/config", documentation/tools/manifest.md "config"), re-exported. */
  export const config: Readonly<Record<string, unknown>>;
  /** A data resource (manifest `data`, read through "Resource") as an ArrayBuffer, or undefined. */
  export function resource(name: string): ArrayBuffer | undefined;
  /** Index of the running app slot (0 for ota_0, 1 for ota_1); -1 when running from factory. */
  export function runningSlot(): number;
  /**
   * esp_ota_get_state_partition(ota_<slot>): 0 NEW, 1 PENDING_VERIFY, 2 VALID, 3 INVALID,
   * 4 ABORTED; -1 when ESP-IDF reports no state (ESP_OTA_IMG_UNDEFINED, ESP_ERR_NOT_FOUND,
   * ESP_ERR_NOT_SUPPORTED).
   */
  export function slotState(slot: number): number;
  /** ota_seq of the newest valid otadata entry (CRC checked); 0 when otadata is blank. */
  export function recordSeq(): number;
  /** Whether this image was built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE. */
  export function rollbackEnabled(): boolean;
  /** esp_ota_set_boot_partition(ota_<slot>); validates the image; throws Error on failure. */
  export function setBootSlot(slot: number): void;
  /** esp_ota_mark_app_valid_cancel_rollback(); throws Error with the esp_err_t name on failure. */
  export function markValid(): void;
  /**
   * esp_ota_mark_app_invalid_rollback_and_reboot(); does not return when it succeeds.
   * Throws Error("ESP_ERR_OTA_ROLLBACK_FAILED") when there is no valid image to go back to.
   */
  export function markInvalidAndReboot(): void;
  /** esp_reset_reason(): the esp_reset_reason_t value (ESP_RST_POWERON = 1, ...). */
  export function resetReason(): number;
}

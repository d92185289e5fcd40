/*
 * tether-esp: the ESP-IDF calls Moddable does not expose (OTA image state, rollback, reset
 * reason). Host functions are implemented in tether-esp.c. This file is compiled by mcconfig
 * (xsc), not bundled by esbuild: the `@ "name"` host-function syntax is XS-only.
 */

export function runningSlot() @ "xs_tether_running_slot";
export function slotState(slot) @ "xs_tether_slot_state";
export function recordSeq() @ "xs_tether_record_seq";
export function rollbackEnabled() @ "xs_tether_rollback_enabled";
export function setBootSlot(slot) @ "xs_tether_set_boot_slot";
export function markValid() @ "xs_tether_mark_valid";
export function markInvalidAndReboot() @ "xs_tether_mark_invalid_and_reboot";
export function resetReason() @ "xs_tether_reset_reason";

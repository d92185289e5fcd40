/*
 * tether-esp: the ESP-IDF calls Moddable does not expose (OTA image state, rollback, reset
 * reason), plus the build's config and data resources. Host functions are in tether-esp.c. This file is compiled by mcconfig
 * (xsc), not bundled by esbuild: the `@ "name"` host-function syntax is XS-only.
 */

import mcConfig from "mc/config";
import Resource from "Resource";

/* The manifest config and data resources, re-exported from here because this module is
   compiled by mcconfig: the esbuild bundle then needs only one Tether-specific external. */
export const config = mcConfig;
export function resource(name) {
	return Resource.exists(name) ? new Resource(name).slice(0) : undefined;
}

export function runningSlot() @ "xs_tether_running_slot";
export function slotState(slot) @ "xs_tether_slot_state";
export function recordSeq() @ "xs_tether_record_seq";
export function rollbackEnabled() @ "xs_tether_rollback_enabled";
export function setBootSlot(slot) @ "xs_tether_set_boot_slot";
export function markValid() @ "xs_tether_mark_valid";
export function markInvalidAndReboot() @ "xs_tether_mark_invalid_and_reboot";
export function resetReason() @ "xs_tether_reset_reason";

/*
 * tether-esp for the Moddable simulator: the same exports as device/platform/moddable/native/
 * tether-esp.js, without ESP-IDF. The simulator runs from "ota_0". By default it has no boot
 * records and no bootloader rollback, so the agent reports OTA as unavailable, as on a board
 * whose bootloader lacks CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE. With config `simRollback`, it
 * keeps ESP-IDF's image states in memory so that an OTA runs through download, verification and
 * setting the trial slot; the restart that follows is the end of what the simulator can show.
 */
import mcConfig from "mc/config";
import Resource from "Resource";

/* esp_ota_img_states_t */
const NEW = 0, VALID = 2, NO_STATE = -1;
const sim = { states: [VALID, NO_STATE], seq: 1 };

export const config = mcConfig;
export function resource(name) {
	return Resource.exists(name) ? new Resource(name).slice(0) : undefined;
}
export function runningSlot() {
	startHeapReport();
	return 0;
}
export function slotState(slot) {
	return mcConfig.simRollback ? sim.states[slot] : NO_STATE;
}
export function recordSeq() {
	return mcConfig.simRollback ? sim.seq : 0;
}
export function rollbackEnabled() {
	return !!mcConfig.simRollback;
}
export function setBootSlot(slot) {
	if (!mcConfig.simRollback)
		throw new Error("ESP_ERR_NOT_SUPPORTED (0x106): no bootloader in the simulator");
	if (slot === 0)
		throw new Error("slot is running");
	sim.states[slot] = NEW;
	sim.seq += 1;
	trace(`[sim] boot slot ${slot} set (ota_seq ${sim.seq}); a board would now restart into it\n`);
}
export function markValid() {
	sim.states[0] = VALID;
}
export function markInvalidAndReboot() {
	throw new Error("ESP_ERR_OTA_ROLLBACK_FAILED (0x1505): no bootloader in the simulator");
}
/* esp_reset_reason_t ESP_RST_POWERON */
export function resetReason() {
	return 1;
}

/* Heap report (manifest config `heapReportMs`, 0 = off): the XS slot heap and chunk heap in use,
   from Moddable's instrumentation (-d or -i builds), one trace line per period, for sizing the
   ESP32 manifest's `creation` block (docs/esp32.md, "Memory budget"). Started on the agent's
   first call, not at load: the bundle is preloaded, so this module's top level runs in the
   linker, where host functions are unavailable. */
import Instrumentation from "instrumentation";
import Timer from "timer";
let reporting = false;
function startHeapReport() {
	if (reporting || !(mcConfig.heapReportMs > 0))
		return;
	reporting = true;
	const SLOT_BYTES = 32;	/* sizeof(txSlot) on a 64-bit host; 16 on the ESP32 */
	const slots = Instrumentation.map("XS Slot Heap Used");
	const chunks = Instrumentation.map("XS Chunk Heap Used");
	const stack = Instrumentation.map("XS Stack Used");
	let peakSlots = 0, peakChunks = 0;
	const report = () => {
		const s = Instrumentation.get(slots) / SLOT_BYTES, c = Instrumentation.get(chunks);
		if (s > peakSlots) peakSlots = s;
		if (c > peakChunks) peakChunks = c;
		trace(`[heap] slots ${s} (peak sampled ${peakSlots}) chunks ${c} (peak sampled ${peakChunks}) stack ${Instrumentation.get(stack)}\n`);
	};
	report();
	Timer.repeat(report, mcConfig.heapReportMs);
}

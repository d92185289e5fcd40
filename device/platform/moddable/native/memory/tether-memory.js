/*
 * tether-memory: the XS machine's own heap counters, for telemetry (device/platform/moddable/
 * memory.ts). Host function in tether-memory.c; platform-neutral C, so the same code runs on the
 * ESP32 and in Moddable's simulator. Compiled by mcconfig (xsc), not bundled by esbuild.
 *
 * sample() returns [slotsUsed, slotsFree, chunkBytesUsed, chunkBytesFree].
 */

export function sample() @ "xs_tether_memory_sample";

/**
 * `tether-memory` — Tether's native module (device/platform/moddable/native/memory/), reading the
 * XS machine's heap counters (xsAll.h txMachine: currentHeapCount, maximumHeapCount,
 * currentChunksSize, maximumChunksSize). Host function declared in JS, implemented with xsmc.
 */
declare module "tether-memory" {
  /** [slotsUsed, slotsFree, chunkBytesUsed, chunkBytesFree] of the running machine. */
  export function sample(): number[];
}

/**
 * MemoryMeter port over `tether-memory` (native/memory): the XS machine's slot and chunk heaps,
 * read from XS's own allocator counters, in release builds too. Anything unexpected reads as
 * "cannot tell" (undefined): telemetry must never fail because of it.
 */
import { sample } from "tether-memory";
import type { MemoryMeter, MemorySample } from "../../ports";

export class XsMemoryMeter implements MemoryMeter {
  sample(): MemorySample | undefined {
    let v: unknown;
    try {
      v = sample();
    } catch {
      return undefined;
    }
    if (!Array.isArray(v) || v.length !== 4) return undefined;
    for (const x of v) if (typeof x !== "number" || !Number.isInteger(x) || x < 0) return undefined;
    return { slotsUsed: v[0], slotsFree: v[1], chunkBytesUsed: v[2], chunkBytesFree: v[3] };
  }
}

/**
 * Fake of Tether's native module "tether-memory" (device/platform/moddable/native/memory): the
 * world's heap figures, fixed unless a test sets them (identical in Node and XS runs).
 */
import { world } from "./world";

export function sample(): number[] {
  const m = world().memory;
  return [m.slotsUsed, m.slotsFree, m.chunkBytesUsed, m.chunkBytesFree];
}

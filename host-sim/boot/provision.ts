/** Factory-flashing a virtual device: an image into a slot plus a boot record saying so. */
import type { Flash, SlotIndex } from "../../device/ports";
import { SLOT_PARTITIONS } from "../../bootloader-spec/reference/bootloader";
import { SlotStateCode as S, writeRecord } from "../../bootloader-spec/reference/record";
import { DEFAULT_MAX_TRIAL_BOOTS } from "../../bootloader-spec/reference/bootloader";

export function writeSlot(flash: Flash, slot: SlotIndex, image: Uint8Array): void {
  const part = flash.open(SLOT_PARTITIONS[slot]);
  if (image.length > part.size) throw new Error(`image of ${image.length} bytes does not fit slot ${slot} (${part.size})`);
  for (let b = 0; b * part.blockSize < image.length; b++) part.eraseBlock(b);
  part.write(0, image);
}

/** Slot `slot` gets `image`, marked valid and selected; the other slot is left as it is (empty). */
export function provision(flash: Flash, image: Uint8Array, slot: SlotIndex = 0, maxTrialBoots = DEFAULT_MAX_TRIAL_BOOTS): void {
  writeSlot(flash, slot, image);
  const states: [number, number] = [S.Empty, S.Empty];
  states[slot] = S.Valid;
  writeRecord(flash.open("otadata"), { bootSlot: slot, states, trialBoots: 0, maxTrialBoots });
}

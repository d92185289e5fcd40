/**
 * ESP-IDF's otadata, byte for byte: two `esp_ota_select_entry_t` copies, one at the start of each
 * 4 KiB sector of the `otadata` partition. Modelled on ESP-IDF v5.4.1 (the version the Moddable
 * ESP32 build uses; docs/esp32.md), read from its sources, not copied:
 * - components/bootloader_support/include/esp_flash_partitions.h: the entry layout and
 *   esp_ota_img_states_t values;
 * - components/bootloader_support/src/bootloader_common_loader.c: bootloader_common_ota_select_crc
 *   (CRC over ota_seq only), bootloader_common_ota_select_invalid / _valid,
 *   bootloader_common_get_active_otadata, bootloader_common_select_otadata;
 * - components/bootloader_support/src/bootloader_utility.c: write_otadata (erase the sector, then
 *   write the 32-byte entry) and the slot mapping (ota_seq - 1) % app_count;
 * - components/app_update/esp_ota_ops.c: rewrite_ota_seq (same erase + write), the first-match
 *   rule of esp_ota_get_state_partition.
 *
 *   0 u32 ota_seq   4 u8[20] seq_label   24 u32 ota_state   28 u32 crc = esp_rom_crc32_le(~0, ota_seq)
 *
 * Nothing but ota_seq is covered by the CRC: a torn write can leave a right seq and CRC with a
 * half-programmed state, and this model reads it back exactly as ESP-IDF would.
 */
import type { FlashPartition, ImageState, SlotIndex } from "../../device/ports";
import { espRomCrc32Le } from "../../bootloader-spec/reference/crc32";

export const OTA_ENTRY_SIZE = 32;
export const OTA_SEQ_ERASED = 0xffffffff;
/** Application slots in the partition table (ota_0, ota_1): esp_ota_get_app_partition_count(). */
export const OTA_APP_COUNT = 2;

/** esp_ota_img_states_t. */
export const OtaImgState = { New: 0, PendingVerify: 1, Valid: 2, Invalid: 3, Aborted: 4, Undefined: 0xffffffff } as const;

const STATE_NAMES: Record<number, ImageState> = { 0: "new", 1: "pending-verify", 2: "valid", 3: "invalid", 4: "aborted" };

/** The port's name for a raw ota_state; anything not in esp_ota_img_states_t reads as "undefined". */
export function imgStateName(state: number): ImageState {
  return STATE_NAMES[state] ?? "undefined";
}

export interface OtaEntry {
  seq: number;
  /** seq_label: unused by ESP-IDF's selection, carried through rewrites as it was read. */
  label: Uint8Array;
  state: number;
  crc: number;
}

export function seqCrc(seq: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, seq >>> 0, true);
  return espRomCrc32Le(0xffffffff, b);
}

export function decodeEntry(b: Uint8Array): OtaEntry {
  const v = new DataView(b.buffer, b.byteOffset, OTA_ENTRY_SIZE);
  return { seq: v.getUint32(0, true), label: b.slice(4, 24), state: v.getUint32(24, true), crc: v.getUint32(28, true) };
}

export function encodeEntry(e: OtaEntry): Uint8Array {
  const b = new Uint8Array(OTA_ENTRY_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, e.seq >>> 0, true);
  b.set(e.label.subarray(0, 20), 4);
  v.setUint32(24, e.state >>> 0, true);
  v.setUint32(28, e.crc >>> 0, true);
  return b;
}

/** A fresh entry as ESP-IDF builds one from erased memory (set_actual_ota_seq: memset 0xFF). */
export function blankEntry(): OtaEntry {
  return { seq: OTA_SEQ_ERASED, label: new Uint8Array(20).fill(0xff), state: OtaImgState.Undefined, crc: OTA_SEQ_ERASED };
}

/** bootloader_common_ota_select_invalid: erased seq, or a state that must never boot. */
export function selectInvalid(e: OtaEntry): boolean {
  return e.seq === OTA_SEQ_ERASED || e.state === OtaImgState.Invalid || e.state === OtaImgState.Aborted;
}

export function crcOk(e: OtaEntry): boolean {
  return e.crc === seqCrc(e.seq);
}

/** bootloader_common_ota_select_valid. */
export function selectValid(e: OtaEntry): boolean {
  return !selectInvalid(e) && crcOk(e);
}

/** bootloader_common_select_otadata: of the flagged entries, the highest (or lowest) seq; -1 if none. */
export function selectOtadata(entries: readonly OtaEntry[], flagged: readonly boolean[], max: boolean): number {
  if (flagged[0] && flagged[1]) {
    const pick = max ? Math.max(entries[0].seq, entries[1].seq) : Math.min(entries[0].seq, entries[1].seq);
    return pick === entries[0].seq ? 0 : 1;
  }
  for (let i = 0; i < 2; i++) if (flagged[i]) return i;
  return -1;
}

/** bootloader_common_get_active_otadata. */
export function activeOtadata(entries: readonly OtaEntry[]): number {
  return selectOtadata(entries, [selectValid(entries[0]), selectValid(entries[1])], true);
}

/** The slot an entry selects: (ota_seq - 1) % app_count, in uint32 arithmetic. */
export function slotOfSeq(seq: number): SlotIndex {
  return (((seq - 1) >>> 0) % OTA_APP_COUNT) as SlotIndex;
}

/** Both entries as stored (bootloader_common_read_otadata / read_otadata). */
export function readOtadata(otadata: FlashPartition): [OtaEntry, OtaEntry] {
  return [decodeEntry(otadata.read(0, OTA_ENTRY_SIZE)), decodeEntry(otadata.read(otadata.blockSize, OTA_ENTRY_SIZE))];
}

/** write_otadata / rewrite_ota_seq: erase sector `sector`, then write its 32-byte entry. */
export function writeEntry(otadata: FlashPartition, sector: number, e: OtaEntry): void {
  otadata.eraseBlock(sector);
  otadata.write(sector * otadata.blockSize, encodeEntry(e));
}

/** esp_ota_get_state_partition: the first entry (sector 0, then 1) mapping to `slot` with a good CRC. */
export function stateOfSlot(entries: readonly OtaEntry[], slot: SlotIndex): number | undefined {
  for (const e of entries) if (slotOfSeq(e.seq) === slot && crcOk(e)) return e.state;
  return undefined;
}

/**
 * The highest ota_seq among entries with a good CRC, whatever their state (0 when none): what the
 * Tether ESP32 binding's recordSeq() reads (device/platform/moddable/native/tether-esp.c).
 */
export function highestSeq(entries: readonly OtaEntry[]): number {
  let best = 0;
  for (const e of entries) if (e.seq !== OTA_SEQ_ERASED && crcOk(e) && e.seq > best) best = e.seq;
  return best;
}

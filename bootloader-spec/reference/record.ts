/**
 * Boot records: two redundant copies in the `otadata` partition, one per erase block, each
 * with a sequence number and a CRC (ESP-IDF's esp_ota_select_entry_t, widened to carry both
 * slots' states and the trial boot counter). The valid copy with the highest sequence wins;
 * a write always goes to the *other* copy, so a torn write leaves the previous record intact.
 */
import type { FlashPartition, SlotIndex } from "../../device/ports";
import { crc32 } from "./crc32";

export const RECORD_MAGIC = 0x54425231; // "TBR1"
export const RECORD_SIZE = 32;
export const RECORD_COPIES = 2;

/** Stored image states (numeric values are the on-flash encoding). */
export const SlotStateCode = { Empty: 0, New: 1, PendingVerify: 2, Valid: 3, Invalid: 4, Aborted: 5 } as const;
export type SlotStateName = "empty" | "new" | "pending-verify" | "valid" | "invalid" | "aborted";
const NAMES: SlotStateName[] = ["empty", "new", "pending-verify", "valid", "invalid", "aborted"];

export function stateName(code: number): SlotStateName {
  return NAMES[code] ?? "invalid";
}

export interface BootRecord {
  /** Monotonic; the newest valid copy wins. */
  seq: number;
  /** The slot the bootloader tries first. */
  bootSlot: SlotIndex;
  /** Per-slot state, SlotStateCode. */
  states: [number, number];
  /** Boots of the pending-verify image so far (persisted before the app runs). */
  trialBoots: number;
  /** Trial boots allowed before the bootloader aborts the image (N in SPEC.md). */
  maxTrialBoots: number;
}

/*
 * Layout (little endian):
 *   0 u32 magic   4 u32 seq   8 u8 bootSlot   9 u8 state[0]   10 u8 state[1]
 *  11 u8 trialBoots   12 u8 maxTrialBoots   13..27 zero   28 u32 crc32(bytes 0..27)
 */
export function encodeRecord(r: BootRecord): Uint8Array {
  const b = new Uint8Array(RECORD_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, RECORD_MAGIC, true);
  v.setUint32(4, r.seq >>> 0, true);
  b[8] = r.bootSlot;
  b[9] = r.states[0];
  b[10] = r.states[1];
  b[11] = r.trialBoots;
  b[12] = r.maxTrialBoots;
  v.setUint32(28, crc32(b, 0, 28), true);
  return b;
}

/** Parses one copy; undefined when erased, torn or garbage. */
export function decodeRecord(b: Uint8Array): BootRecord | undefined {
  if (b.length < RECORD_SIZE) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, RECORD_SIZE);
  if (v.getUint32(0, true) !== RECORD_MAGIC) return undefined;
  if (v.getUint32(28, true) !== crc32(b, 0, 28)) return undefined;
  const bootSlot = b[8];
  if (bootSlot > 1 || b[9] > SlotStateCode.Aborted || b[10] > SlotStateCode.Aborted) return undefined;
  return {
    seq: v.getUint32(4, true),
    bootSlot: bootSlot as SlotIndex,
    states: [b[9], b[10]],
    trialBoots: b[11],
    maxTrialBoots: b[12],
  };
}

/** What a fresh flash (no valid record copy) reads as: slot 0 valid, slot 1 empty (SPEC R1). */
export function freshRecord(maxTrialBoots: number): BootRecord {
  return { seq: 0, bootSlot: 0, states: [SlotStateCode.Valid, SlotStateCode.Empty], trialBoots: 0, maxTrialBoots };
}

export interface RecordRead {
  /** The newest valid copy, or undefined when neither copy is valid (fresh flash). */
  latest: BootRecord | undefined;
  /** Index of the copy holding `latest`. */
  latestCopy: number | undefined;
  copies: (BootRecord | undefined)[];
}

export function readRecords(otadata: FlashPartition): RecordRead {
  const copies: (BootRecord | undefined)[] = [];
  let latest: BootRecord | undefined;
  let latestCopy: number | undefined;
  for (let i = 0; i < RECORD_COPIES; i++) {
    const r = decodeRecord(otadata.read(i * otadata.blockSize, RECORD_SIZE));
    copies.push(r);
    if (r && (latest === undefined || r.seq > latest.seq)) {
      latest = r;
      latestCopy = i;
    }
  }
  return { latest, latestCopy, copies };
}

/**
 * Writes `next` (its seq is set to latest.seq + 1) into the copy that does not hold the
 * current record: erase that block, then one write. Returns the record written.
 */
export function writeRecord(otadata: FlashPartition, next: Omit<BootRecord, "seq">): BootRecord {
  const { latest, latestCopy } = readRecords(otadata);
  const record: BootRecord = { ...next, states: [next.states[0], next.states[1]], seq: latest ? latest.seq + 1 : 1 };
  const target = latestCopy === undefined ? 0 : (latestCopy + 1) % RECORD_COPIES;
  otadata.eraseBlock(target);
  otadata.write(target * otadata.blockSize, encodeRecord(record));
  return record;
}

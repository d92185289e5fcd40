/**
 * What OTA keeps across reboots, in the key-value store (NVS on ESP32): the highest accepted
 * security counter, the versions that were rolled back or failed (never retried), and the
 * trial record written just before the switch to the new slot.
 */
import type { KeyValueStore, SlotIndex } from "../../ports";
import { cborDecode, cborEncode } from "../util/cbor";

const KEY_COUNTER = "ota.ctr";
const KEY_REJECTED = "ota.rej";
const KEY_TRIAL = "ota.trial";
/**
 * Entries kept. Versions at or below the running one are dropped first (the downgrade check
 * refuses them anyway); only past that does the oldest rejection drop off.
 */
export const MAX_REJECTED = 32;

export interface TrialRecord {
  version: number;
  slot: SlotIndex;
  securityCounter: number;
  /** BootControl.recordSeq() before setPending: unchanged after a reboot = setPending never landed. */
  seqBefore: number;
}

function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

export class OtaStore {
  constructor(private readonly kv: KeyValueStore) {}

  securityCounter(): number {
    const b = this.kv.get(KEY_COUNTER);
    if (!b || b.length !== 4) return 0;
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  /** Raises the stored counter (never lowers it). */
  raiseSecurityCounter(n: number): void {
    if (n <= this.securityCounter()) return;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    this.kv.set(KEY_COUNTER, b);
  }

  rejected(): number[] {
    const b = this.kv.get(KEY_REJECTED);
    if (!b) return [];
    try {
      const v = cborDecode(b);
      return Array.isArray(v) ? v.filter(isUint) : [];
    } catch {
      return []; // a corrupt list must not stop the agent; versions are still checked against the counter
    }
  }

  isRejected(version: number): boolean {
    return this.rejected().includes(version);
  }

  reject(version: number, runningVersion = 0): void {
    const list = this.rejected().filter((v) => v !== version && v > runningVersion);
    list.push(version);
    while (list.length > MAX_REJECTED) list.shift();
    this.kv.set(KEY_REJECTED, cborEncode(list));
  }

  trial(): TrialRecord | undefined {
    const b = this.kv.get(KEY_TRIAL);
    if (!b) return undefined;
    try {
      const v = cborDecode(b);
      if (!Array.isArray(v) || v.length !== 4 || !v.every(isUint) || v[1] > 1) return undefined;
      return { version: v[0], slot: v[1] as SlotIndex, securityCounter: v[2], seqBefore: v[3] };
    } catch {
      return undefined;
    }
  }

  setTrial(t: TrialRecord): void {
    this.kv.set(KEY_TRIAL, cborEncode([t.version, t.slot, t.securityCounter, t.seqBefore]));
  }

  clearTrial(): void {
    this.kv.delete(KEY_TRIAL);
  }
}

/**
 * Message sequence numbers that only ever go up, across reboots, without a flash write per
 * message: the counter reserves a window of numbers in the key-value store and writes again
 * only when the window is used up. A reboot skips the rest of the window; the record's boot
 * count and reset reason tell a backend that such a gap is a reboot, not a loss.
 */
import type { KeyValueStore } from "../ports";

export const SEQ_KEY = "seq.next";
export const SEQ_WINDOW = 16;

export class SequenceCounter {
  private next: number;
  private reservedUpTo: number;

  constructor(private readonly kv: KeyValueStore) {
    this.next = readU32(kv.get(SEQ_KEY)) ?? 0;
    this.reservedUpTo = this.next;
  }

  /** The next sequence number; persisted before it is handed out. */
  take(): number {
    if (this.next >= this.reservedUpTo) {
      // Stored first: if the write fails, nothing unreserved is handed out (the caller sees the error).
      const upTo = this.next + SEQ_WINDOW;
      this.kv.set(SEQ_KEY, writeU32(upTo));
      this.reservedUpTo = upTo;
    }
    return this.next++;
  }

  /** What the next take() will return. */
  peek(): number {
    return this.next;
  }
}

export function readU32(bytes: Uint8Array | undefined): number | undefined {
  if (bytes === undefined || bytes.length !== 4) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

export function writeU32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

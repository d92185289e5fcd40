/**
 * Message sequence numbers that never repeat across reboots, without a flash write per
 * message: the counter reserves a window of SEQ_WINDOW numbers in the key-value store and
 * writes again only when the window is used up. A reboot skips the rest of the window, so the
 * first number after a reboot is the next multiple of SEQ_WINDOW (docs/protocol/telemetry.md
 * tells a backend how to tell such a skip from a loss).
 *
 * The counter itself is 64-bit in the store (it never goes back, whatever the uptime); the
 * number on the wire is its low 32 bits, so it wraps to 0 after 4,294,967,295 instead of
 * stopping there. At one message a second that is 136 years.
 *
 * A power cut must not lose the key (on the board a set erases it first, util/cut-safe-kv.ts):
 * a lost reservation would restart numbering at 0 and reuse numbers. So each reservation is
 * written to the shadow key first, then to the plain key, and the shadow is kept (one write less
 * than deleting it); the counter reads the larger of the two. A stale shadow is never larger
 * than what was reserved, so it cannot make a number repeat, and an older image after a rollback
 * reads the plain key, which always holds the latest reservation.
 */
import type { KeyValueStore } from "../ports";
import { shadowKeyOf } from "./util/cut-safe-kv";

export const SEQ_KEY = "seq.next";
const SEQ_SHADOW_KEY = shadowKeyOf(SEQ_KEY);
export const SEQ_WINDOW = 16;
/** The wire number is the counter modulo this (telemetry's `seq` is a uint32). */
export const SEQ_MODULUS = 2 ** 32;

export class SequenceCounter {
  private next: number;
  private reservedUpTo: number;

  constructor(private readonly kv: KeyValueStore) {
    this.next = storedCounter(kv) ?? 0;
    this.reservedUpTo = this.next;
  }

  /** The next sequence number (uint32, wrapping); its reservation is persisted before it is handed out. */
  take(): number {
    if (this.next >= this.reservedUpTo) {
      // Stored first: if the write fails, nothing unreserved is handed out (the caller sees the error).
      const upTo = this.next + SEQ_WINDOW;
      const bytes = writeCounter(upTo);
      // No plain key (the first reservation, or a cut lost it): nothing to lose by rewriting it, and
      // a shadow left by that cut must keep its reservation until the plain key holds a larger one.
      if (this.kv.get(SEQ_KEY) !== undefined) this.kv.set(SEQ_SHADOW_KEY, bytes);
      this.kv.set(SEQ_KEY, bytes);
      this.reservedUpTo = upTo;
    }
    return this.next++ % SEQ_MODULUS;
  }

  /** What the next take() will return. */
  peek(): number {
    return this.next % SEQ_MODULUS;
  }
}

/** The larger of the plain and the shadow reservation; undefined when neither reads. */
function storedCounter(kv: KeyValueStore): number | undefined {
  const plain = readCounter(kv.get(SEQ_KEY));
  const shadow = readCounter(kv.get(SEQ_SHADOW_KEY));
  if (plain === undefined) return shadow;
  return shadow === undefined ? plain : Math.max(plain, shadow);
}

/** The stored counter: 8 bytes big-endian (4 bytes from builds before the counter was 64-bit). */
export function readCounter(bytes: Uint8Array | undefined): number | undefined {
  if (bytes === undefined || (bytes.length !== 4 && bytes.length !== 8)) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (bytes.length === 4) return v.getUint32(0);
  const hi = v.getUint32(0);
  // Past 2^53 a JS number loses integers; at one message a microsecond that takes 285 years.
  if (hi >= 2 ** 21) return undefined;
  return hi * 2 ** 32 + v.getUint32(4);
}

export function writeCounter(n: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(n / 2 ** 32));
  v.setUint32(4, n % 2 ** 32);
  return out;
}

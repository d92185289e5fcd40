/**
 * A small CBOR writer for the telemetry batch, whose shape is fixed (integer keys, integers and
 * short text only). It writes the heads cbor-x writes for the same values (the shortest head;
 * maps and arrays counted, not indefinite), so the bytes are the same as cborEncode of the Map
 * form; test/telemetry/batch-codec.test.ts checks that against cbor-x byte for byte. It exists
 * for speed: no Map per batch and per sample, no generic type dispatch, one reused buffer.
 * Text is strict UTF-8 (lone surrogates become U+FFFD, as in MQTT strings); cbor-x would
 * write them as invalid 3-byte sequences.
 */
import { utf8Length, utf8Write } from "../mqtt/utf8";
import { transientBytes } from "../util/byte-slab";

// CBOR major types (RFC 8949 §3.1).
export const MAJOR_UINT = 0;
export const MAJOR_NEGINT = 1;
export const MAJOR_TEXT = 3;
export const MAJOR_ARRAY = 4;
export const MAJOR_MAP = 5;
/** Additional-information values that say "the argument follows in 1, 2 or 4 bytes". */
const AI_1 = 24;
const AI_2 = 25;
const AI_4 = 26;

/** Bytes a head takes for an argument 0..2^32-1. */
export function headSize(arg: number): number {
  return arg < 24 ? 1 : arg < 0x100 ? 2 : arg < 0x10000 ? 3 : 5;
}

export class CborWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  /** Starts a new item at the front of the buffer. */
  reset(): void {
    this.pos = 0;
  }

  get length(): number {
    return this.pos;
  }

  /**
   * A copy of what was written (the buffer is reused by the next item), from the slab
   * (byte-slab.ts): a batch goes into the outbox, which copies it into its record.
   */
  bytes(): Uint8Array {
    const out = transientBytes(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }

  /** A head of `major` with argument `arg`, an integer 0..2^32-1 (callers check the range). */
  head(major: number, arg: number): void {
    this.room(5);
    const b = this.buf;
    const m = major << 5;
    if (arg < 24) {
      b[this.pos++] = m | arg;
    } else if (arg < 0x100) {
      b[this.pos++] = m | AI_1;
      b[this.pos++] = arg;
    } else if (arg < 0x10000) {
      b[this.pos++] = m | AI_2;
      b[this.pos++] = arg >>> 8;
      b[this.pos++] = arg & 0xff;
    } else {
      b[this.pos++] = m | AI_4;
      b[this.pos++] = arg >>> 24;
      b[this.pos++] = (arg >>> 16) & 0xff;
      b[this.pos++] = (arg >>> 8) & 0xff;
      b[this.pos++] = arg & 0xff;
    }
  }

  /** An integer -2^32..2^32-1. */
  int(v: number): void {
    if (v >= 0) this.head(MAJOR_UINT, v);
    else this.head(MAJOR_NEGINT, -1 - v);
  }

  text(s: string): void {
    const n = utf8Length(s);
    this.head(MAJOR_TEXT, n);
    this.room(n);
    this.pos = utf8Write(s, this.buf, this.pos);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }
}

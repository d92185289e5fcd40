/**
 * Seeded randomness: sfc32, pure 32-bit integer arithmetic (Math.imul, shifts, adds),
 * so XS and Node produce the same stream from the same seed.
 */
import type { Random } from "../../device/ports";

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    // Warm up so nearby seeds give unrelated streams.
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  fill(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i += 4) {
      let v = this.nextU32();
      for (let j = 0; j < 4 && i + j < bytes.length; j++) {
        bytes[i + j] = v & 0xff;
        v >>>= 8;
      }
    }
  }

  /** A uniform integer in [0, n) without modulo bias; n ≤ 2^32. */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const v = this.nextU32();
      if (v < limit) return v % n;
    }
  }

  /** An independent stream derived from this seed and a label (FNV-1a of the label). */
  fork(label: string): SeededRandom {
    let h = 0x811c9dc5;
    for (let i = 0; i < label.length; i++) {
      h ^= label.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return new SeededRandom((this.nextU32() ^ h) >>> 0);
  }
}

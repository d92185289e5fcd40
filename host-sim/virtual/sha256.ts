/**
 * SHA-256 in portable JavaScript (FIPS 180-4), streaming, for virtual devices and the XS tier.
 * On a board the Sha256 port is native (Moddable crypt Digest); this one stands in for it in
 * simulation and is checked against node:crypto in a differential test.
 */
import type { Sha256, Sha256Hasher } from "../../device/ports";

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

class JsSha256Hasher implements Sha256Hasher {
  private readonly h = new Uint32Array(H0);
  private readonly w = new Uint32Array(64);
  private readonly block = new Uint8Array(64);
  private used = 0;
  private total = 0;
  private done = false;

  update(bytes: Uint8Array): void {
    if (this.done) throw new Error("sha256: update after digest");
    this.total += bytes.length;
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(64 - this.used, bytes.length - i);
      this.block.set(bytes.subarray(i, i + n), this.used);
      this.used += n;
      i += n;
      if (this.used === 64) {
        this.compress();
        this.used = 0;
      }
    }
  }

  digest(): Uint8Array {
    if (this.done) throw new Error("sha256: digest called twice");
    this.done = true;
    const bitsHigh = Math.floor(this.total / 0x20000000);
    const bitsLow = (this.total * 8) >>> 0;
    this.block[this.used++] = 0x80;
    if (this.used > 56) {
      this.block.fill(0, this.used);
      this.compress();
      this.used = 0;
    }
    this.block.fill(0, this.used, 56);
    const view = new DataView(this.block.buffer);
    view.setUint32(56, bitsHigh);
    view.setUint32(60, bitsLow);
    this.compress();
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let j = 0; j < 8; j++) ov.setUint32(j * 4, this.h[j]);
    return out;
  }

  private compress(): void {
    const w = this.w;
    const b = this.block;
    for (let t = 0; t < 16; t++) w[t] = (b[t * 4] << 24) | (b[t * 4 + 1] << 16) | (b[t * 4 + 2] << 8) | b[t * 4 + 3];
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let [a, bb, c, d, e, f, g, h] = this.h;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    const H = this.h;
    H[0] += a; H[1] += bb; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
}

export const jsSha256: Sha256 = {
  create: () => new JsSha256Hasher(),
};

/** One-shot convenience. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const h = jsSha256.create();
  h.update(bytes);
  return h.digest();
}

/** Where a faulty hash port fails: "error" throws Sha256Error, "wrong" returns a digest with one bit flipped. */
export type Sha256Fault = "error" | "wrong" | undefined;

/** A failing native hash engine (Moddable crypt Digest on the board) as the port reports it. */
export class Sha256Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Sha256Error";
  }
}

/**
 * A Sha256 port that fails where `fault` says: on `update` or `digest` (call numbers count
 * across hashers, so a test can pick "the 3rd digest"). Injection only: what the updater does
 * with it is the updater's business.
 */
export function faultySha256(base: Sha256, fault: (call: { kind: "update" | "digest"; n: number }) => Sha256Fault): Sha256 {
  let n = 0;
  return {
    create() {
      const h = base.create();
      return {
        update(bytes) {
          if (fault({ kind: "update", n: n++ }) === "error") throw new Sha256Error("sha256: hash engine failed during update");
          h.update(bytes);
        },
        digest() {
          const f = fault({ kind: "digest", n: n++ });
          if (f === "error") throw new Sha256Error("sha256: hash engine failed during digest");
          const d = h.digest();
          if (f === "wrong") d[0] ^= 1;
          return d;
        },
      };
    },
  };
}

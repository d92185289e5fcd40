/**
 * Fake of Moddable's "crypt" Digest (documentation/crypt/crypt.md): write() takes a String or an
 * ArrayBuffer (nothing else), close() returns an ArrayBuffer and may be called once.
 * Only SHA256 is modelled (the portable JS SHA-256 from host-sim stands in for the native one).
 */
import { jsSha256 } from "../../../host-sim/virtual/sha256";
import type { Sha256Hasher } from "../../../device/ports";

function utf8(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

export class Digest {
  private hasher: Sha256Hasher | undefined;

  constructor(type: string) {
    if (type !== "SHA256") throw new Error(`fake crypt: ${type} not modelled`);
    this.hasher = jsSha256.create();
  }

  write(message: string | ArrayBuffer): void {
    if (!this.hasher) throw new Error("closed");
    if (typeof message === "string") {
      // XS strings are UTF-8 inside; the digest hashes those bytes.
      this.hasher.update(utf8(message));
    } else if (message instanceof ArrayBuffer) {
      this.hasher.update(new Uint8Array(message));
    } else {
      throw new TypeError("Digest.write: String or ArrayBuffer required");
    }
  }

  close(): ArrayBuffer {
    if (!this.hasher) throw new Error("closed");
    const out = this.hasher.digest();
    this.hasher = undefined;
    return out.slice().buffer as ArrayBuffer;
  }

  reset(): void {
    this.hasher = jsSha256.create();
  }
}

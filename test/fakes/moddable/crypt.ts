/**
 * Fake of Moddable's "crypt" Digest (documentation/crypt/crypt.md): write() takes a String or an
 * ArrayBuffer (nothing else), close() returns an ArrayBuffer and may be called once.
 * Only SHA256 is modelled (the portable JS SHA-256 from host-sim stands in for the native one).
 */
import { jsSha256 } from "../../../host-sim/virtual/sha256";
import type { Sha256Hasher } from "../../../device/ports";

export class Digest {
  private hasher: Sha256Hasher | undefined;

  constructor(type: string) {
    if (type !== "SHA256") throw new Error(`fake crypt: ${type} not modelled`);
    this.hasher = jsSha256.create();
  }

  write(message: string | ArrayBuffer): void {
    if (!this.hasher) throw new Error("closed");
    if (typeof message === "string") {
      this.hasher.update(new TextEncoder().encode(message));
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

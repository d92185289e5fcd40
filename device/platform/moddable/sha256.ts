/** Sha256 port over Moddable's native "crypt" Digest: firmware images are never hashed in JS. */
import { Digest } from "crypt";
import type { Sha256, Sha256Hasher } from "../../ports";

class DigestHasher implements Sha256Hasher {
  private digest_: Digest | undefined = new Digest("SHA256");

  update(bytes: Uint8Array): void {
    if (!this.digest_) throw new Error("sha256: update after digest");
    if (bytes.length === 0) return;
    // Digest.write takes an ArrayBuffer; copy only when the view does not cover its buffer.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    this.digest_.write((whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer);
  }

  digest(): Uint8Array {
    if (!this.digest_) throw new Error("sha256: digest called twice");
    const out = new Uint8Array(this.digest_.close());
    this.digest_ = undefined;
    return out;
  }
}

export const moddableSha256: Sha256 = {
  create: () => new DigestHasher(),
};

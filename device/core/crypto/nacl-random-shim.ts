/**
 * Stands in for Node's `crypto` module inside tweetnacl when it is bundled for a device.
 *
 * tweetnacl does `require("crypto").randomBytes(n)` to seed its PRNG; the device build
 * (scripts/build.mjs, the XS policy) aliases that require to this module. Verifying
 * signatures and hashing need no randomness, so by default asking for random bytes
 * throws a clear error instead of returning something weak. A port that has a real
 * randomness source (the Random port) registers it with `setRandomSource`.
 */

/** Fills `bytes` with cryptographically strong random bytes. */
export type RandomFill = (bytes: Uint8Array) => void;

let source: RandomFill | undefined;

/** Registers (or with `undefined`, removes) the randomness source tweetnacl draws from. */
export function setRandomSource(fill: RandomFill | undefined): void {
  source = fill;
}

/** The one function tweetnacl calls on its `crypto` module. */
export function randomBytes(n: number): Uint8Array {
  if (source === undefined) {
    throw new Error(
      "tweetnacl asked for random bytes on the device, but no randomness source is registered: " +
        "key generation needs one (call setRandomSource from device/core/crypto/nacl-random-shim); " +
        "signature verification does not",
    );
  }
  const bytes = new Uint8Array(n);
  source(bytes);
  return bytes;
}

/**
 * Stands in for Node's `crypto` module inside tweetnacl when it is bundled for a device.
 *
 * tweetnacl does `require("crypto").randomBytes(n)` to seed its PRNG; the device build
 * (scripts/build.mjs, the XS policy) aliases that require to this module. The device only
 * verifies signatures and hashes, which need no randomness, and never makes keys, so asking
 * for random bytes throws a clear error instead of returning something weak.
 */

/** The one function tweetnacl calls on its `crypto` module. */
export function randomBytes(_n: number): Uint8Array {
  throw new Error(
    "tweetnacl asked for random bytes on the device, but no randomness source is registered: " +
      "the device verifies signatures, which needs none, and never generates keys",
  );
}

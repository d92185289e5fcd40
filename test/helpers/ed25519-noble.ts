/**
 * A second ed25519 verifier, @noble/ed25519 v3 (sync API) with SHA-512 from tweetnacl, that the
 * device's tweetnacl check is compared against (test/ota/ed25519.test.ts). Strict RFC 8032
 * verification (zip215: false): no non-canonical points. It is a test helper, not device code:
 * @noble/ed25519 is a dev dependency. Its XS cost beside tweetnacl is measured by bench/ota.bench.ts
 * (test/xs/scenarios/ota-sigcost.scenario.ts). To ship it instead, move it back under device/core/ota,
 * set OtaOptions.verifySignature = nobleVerify, and move @noble/ed25519 to dependencies.
 */
import * as ed from "@noble/ed25519";
import nacl from "tweetnacl";
import type { SignatureCheck } from "../../device/core/ota/ed25519";

ed.hashes.sha512 = ((m: Uint8Array) => nacl.hash(m)) as typeof ed.hashes.sha512;

export const nobleVerify: SignatureCheck = (message, signature, publicKey) => {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false; // malformed point encodings throw in noble; they are simply not valid signatures
  }
};

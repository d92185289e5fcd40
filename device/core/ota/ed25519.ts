/**
 * ed25519 signature check for manifests (tweetnacl; see bench/ota.bench.ts for the cost on XS).
 * Runs once per offered manifest, over a few hundred bytes to a few KiB: never over the image.
 */
import nacl from "tweetnacl";

export type SignatureCheck = (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array) => boolean;

export const tweetnaclVerify: SignatureCheck = (message, signature, publicKey) => {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  return nacl.sign.detached.verify(message, signature, publicKey);
};

/**
 * Building and signing OTA bundles, portable (no Node): the CLI, host-sim and the tests share it.
 * A bundle is the slot image (bootloader-spec image format) plus the signed manifest envelope.
 */
import nacl from "tweetnacl";
import type { Sha256 } from "../../device/ports";
import { wrapImage } from "../../bootloader-spec/reference/image";
import { encodeEnvelope, encodeManifest, HASH_SIZE, blockCount, type Manifest } from "../../device/core/ota/manifest";
import { keyIdOf } from "../../device/core/ota/verify";
import { sha256Of } from "../../device/core/ota/bytes";

export const DEFAULT_BLOCK_SIZE = 4096;

export interface SignOptions {
  version: number;
  hardwareId: string;
  securityCounter: number;
  /** Unix seconds. */
  expiry?: number;
  blockSize?: number;
  /**
   * "tether" (default): wrap the payload in the Tether slot image format (host-sim, reference
   * bootloader). "raw": the payload already is the slot image, e.g. an ESP-IDF app .bin.
   */
  format?: "tether" | "raw";
}

export interface Bundle {
  image: Uint8Array;
  manifest: Manifest;
  /** The signed envelope: what goes on tether/<id>/ota/manifest. */
  envelope: Uint8Array;
}


/** The manifest describing a slot image (hashes computed here). */
export function describeImage(image: Uint8Array, o: SignOptions, sha256: Sha256): Manifest {
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  const n = blockCount(image.length, blockSize);
  const blockHashes = new Uint8Array(n * HASH_SIZE);
  for (let i = 0; i < n; i++) blockHashes.set(sha256Of(sha256, image.subarray(i * blockSize, (i + 1) * blockSize)), i * HASH_SIZE);
  const m: Manifest = {
    version: o.version,
    hardwareId: o.hardwareId,
    length: image.length,
    sha256: sha256Of(sha256, image),
    blockSize,
    blockHashes,
    securityCounter: o.securityCounter,
  };
  if (o.expiry !== undefined) m.expiry = o.expiry;
  return m;
}

/** Signs the manifest's exact CBOR bytes with an ed25519 secret key (64 bytes, tweetnacl form). */
export function signManifest(m: Manifest, secretKey: Uint8Array, sha256: Sha256): Uint8Array {
  if (secretKey.length !== 64) throw new Error("secret key must be 64 bytes (ed25519, tweetnacl form)");
  const manifestBytes = encodeManifest(m);
  const signature = nacl.sign.detached(manifestBytes, secretKey);
  const publicKey = secretKey.subarray(32);
  return encodeEnvelope({ manifestBytes, keyId: keyIdOf(publicKey, sha256), signature });
}

/** Wraps an application payload into a slot image and signs its manifest. */
export function createBundle(payload: Uint8Array, o: SignOptions, secretKey: Uint8Array, sha256: Sha256): Bundle {
  const image = o.format === "raw" ? payload.slice() : wrapImage(payload, o.version, o.hardwareId, sha256);
  const manifest = describeImage(image, o, sha256);
  return { image, manifest, envelope: signManifest(manifest, secretKey, sha256) };
}

/** The image split into the blocks the manifest describes (what goes on tether/ota/image/<sha256>/block/<n>). */
export function splitBlocks(image: Uint8Array, blockSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < image.length; off += blockSize) out.push(image.subarray(off, Math.min(off + blockSize, image.length)));
  return out;
}

export function keyPairFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return nacl.sign.keyPair.fromSeed(seed);
}

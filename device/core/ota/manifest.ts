/**
 * The signed OTA manifest (CDDL in docs/protocol/ota.md). The envelope carries the manifest's
 * exact CBOR bytes, the signing key's id and an ed25519 signature over those bytes, so the
 * device checks the signature before it parses a single manifest field.
 *
 * Parsers are strict: wrong types, unknown keys, out-of-range numbers and trailing bytes are
 * errors (ManifestError), never exceptions of another kind.
 */
import { cborDecode, cborEncode } from "../util/cbor";
import { setErrorName } from "../util/error-name";

// Envelope keys
export const ENV_MANIFEST = 1;
export const ENV_KEY_ID = 2;
export const ENV_SIGNATURE = 3;
/** Unsigned marker set by the fleet: "retry a rejection whose cause was unknown" (only ever the value 1). */
export const ENV_RETRY_AMBIGUOUS = 4;
// Manifest keys
export const M_VERSION = 1;
export const M_HARDWARE = 2;
export const M_LENGTH = 3;
export const M_SHA256 = 4;
export const M_BLOCK_SIZE = 5;
export const M_BLOCK_HASHES = 6;
export const M_COUNTER = 7;
export const M_EXPIRY = 8;

export const KEY_ID_SIZE = 8;
export const SIGNATURE_SIZE = 64;
export const HASH_SIZE = 32;
export const MIN_BLOCK_SIZE = 256;
export const MAX_BLOCK_SIZE = 65536;
/** Bounds the manifest (and the RAM it takes): 16 MiB images at 4 KiB blocks. */
export const MAX_BLOCKS = 4096;
export const MAX_ENVELOPE_BYTES = 16 + KEY_ID_SIZE + SIGNATURE_SIZE + 64 + MAX_BLOCKS * HASH_SIZE + 64;
const U32_MAX = 0xffffffff;
const HW_MAX = 16;

export interface Manifest {
  version: number;
  hardwareId: string;
  /** Bytes of the slot image. */
  length: number;
  sha256: Uint8Array;
  blockSize: number;
  /** HASH_SIZE bytes per block, concatenated. */
  blockHashes: Uint8Array;
  securityCounter: number;
  /** Unix seconds. */
  expiry?: number;
}

export interface Envelope {
  manifestBytes: Uint8Array;
  keyId: Uint8Array;
  signature: Uint8Array;
  /**
   * The fleet asks the device to lift a cause-6 (unknown) rejection of this version, once. Not
   * signed: it can never override a crash, watchdog or unhealthy rejection (store.ts canLift).
   */
  retryAmbiguous?: boolean;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "ManifestError");
  }
}

export function blockCount(length: number, blockSize: number): number {
  return Math.ceil(length / blockSize);
}

export function blockHash(m: Manifest, index: number): Uint8Array {
  return m.blockHashes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
}

export function blockLength(m: Manifest, index: number): number {
  return Math.min(m.blockSize, m.length - index * m.blockSize);
}

function decodeMap(bytes: Uint8Array, what: string): Map<unknown, unknown> {
  let v: unknown;
  try {
    v = cborDecode(bytes);
  } catch (e) {
    throw new ManifestError(`${what}: not CBOR (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!(v instanceof Map)) throw new ManifestError(`${what}: not a CBOR map`);
  return v;
}

function onlyKeys(m: Map<unknown, unknown>, allowed: number[], what: string): void {
  for (const k of m.keys()) if (typeof k !== "number" || !allowed.includes(k)) throw new ManifestError(`${what}: unknown key ${String(k)}`);
}

function bstr(m: Map<unknown, unknown>, key: number, what: string, size?: number): Uint8Array {
  const v = m.get(key);
  if (!(v instanceof Uint8Array)) throw new ManifestError(`${what}: key ${key} must be a byte string`);
  if (size !== undefined && v.length !== size) throw new ManifestError(`${what}: key ${key} must be ${size} bytes, got ${v.length}`);
  return new Uint8Array(v);
}

function uint(m: Map<unknown, unknown>, key: number, what: string, max = U32_MAX): number {
  const v = m.get(key);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new ManifestError(`${what}: key ${key} must be an integer 0..${max}`);
  return v;
}

export function parseEnvelope(bytes: Uint8Array): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new ManifestError("envelope: not bytes");
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new ManifestError(`envelope: ${bytes.length} bytes, max ${MAX_ENVELOPE_BYTES}`);
  const m = decodeMap(bytes, "envelope");
  onlyKeys(m, [ENV_MANIFEST, ENV_KEY_ID, ENV_SIGNATURE, ENV_RETRY_AMBIGUOUS], "envelope");
  const out: Envelope = {
    manifestBytes: bstr(m, ENV_MANIFEST, "envelope"),
    keyId: bstr(m, ENV_KEY_ID, "envelope", KEY_ID_SIZE),
    signature: bstr(m, ENV_SIGNATURE, "envelope", SIGNATURE_SIZE),
  };
  if (m.has(ENV_RETRY_AMBIGUOUS)) {
    if (m.get(ENV_RETRY_AMBIGUOUS) !== 1) throw new ManifestError(`envelope: key ${ENV_RETRY_AMBIGUOUS} (retry marker) must be 1`);
    out.retryAmbiguous = true;
  }
  return out;
}

/** Parses manifest bytes (call only after the signature over them checked out). */
export function parseManifest(bytes: Uint8Array): Manifest {
  const m = decodeMap(bytes, "manifest");
  onlyKeys(m, [M_VERSION, M_HARDWARE, M_LENGTH, M_SHA256, M_BLOCK_SIZE, M_BLOCK_HASHES, M_COUNTER, M_EXPIRY], "manifest");
  const hw = m.get(M_HARDWARE);
  if (typeof hw !== "string" || hw.length === 0 || hw.length > HW_MAX || !/^[\x20-\x7e]+$/.test(hw)) {
    throw new ManifestError(`manifest: key ${M_HARDWARE} (hardware id) must be 1..${HW_MAX} printable ASCII characters`);
  }
  const length = uint(m, M_LENGTH, "manifest");
  if (length === 0) throw new ManifestError("manifest: image length is 0");
  const blockSize = uint(m, M_BLOCK_SIZE, "manifest", MAX_BLOCK_SIZE);
  if (blockSize < MIN_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw new ManifestError(`manifest: block size ${blockSize} must be a power of two in ${MIN_BLOCK_SIZE}..${MAX_BLOCK_SIZE}`);
  }
  const blocks = blockCount(length, blockSize);
  if (blocks > MAX_BLOCKS) throw new ManifestError(`manifest: ${blocks} blocks, max ${MAX_BLOCKS}`);
  const out: Manifest = {
    version: uint(m, M_VERSION, "manifest"),
    hardwareId: hw,
    length,
    sha256: bstr(m, M_SHA256, "manifest", HASH_SIZE),
    blockSize,
    blockHashes: bstr(m, M_BLOCK_HASHES, "manifest", blocks * HASH_SIZE),
    securityCounter: uint(m, M_COUNTER, "manifest"),
  };
  if (m.has(M_EXPIRY)) out.expiry = uint(m, M_EXPIRY, "manifest", Number.MAX_SAFE_INTEGER);
  return out;
}

export function encodeManifest(m: Manifest): Uint8Array {
  const map = new Map<number, unknown>([
    [M_VERSION, m.version],
    [M_HARDWARE, m.hardwareId],
    [M_LENGTH, m.length],
    [M_SHA256, m.sha256],
    [M_BLOCK_SIZE, m.blockSize],
    [M_BLOCK_HASHES, m.blockHashes],
    [M_COUNTER, m.securityCounter],
  ]);
  if (m.expiry !== undefined) map.set(M_EXPIRY, m.expiry);
  return cborEncode(map);
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  const map = new Map<number, unknown>([
    [ENV_MANIFEST, e.manifestBytes],
    [ENV_KEY_ID, e.keyId],
    [ENV_SIGNATURE, e.signature],
  ]);
  if (e.retryAmbiguous) map.set(ENV_RETRY_AMBIGUOUS, 1);
  return cborEncode(map);
}

/** The same signed offer with the fleet's "retry an ambiguous rejection" marker added. */
export function withRetryMarker(envelopeBytes: Uint8Array): Uint8Array {
  return encodeEnvelope({ ...parseEnvelope(envelopeBytes), retryAmbiguous: true });
}

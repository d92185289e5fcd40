/**
 * The one cbor-x configuration every Tether message uses (telemetry, config, OTA): plain CBOR any backend
 * can decode (no record extension, no tag 259 on maps, no tag 64 on byte strings), and
 * maps decoded as Map so small integer keys stay integers.
 */
import { Decoder, Encoder } from "cbor-x";
import { CBOR_MAX_DEPTH, scanCbor } from "./cbor-scan";

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  useTag259ForMaps: false,
  tagUint8Array: false,
} as ConstructorParameters<typeof Encoder>[0]);

/**
 * cbor-x's encode flag (encode.js RESET_BUFFER_MODE, not re-exported by the package index):
 * rewind its shared buffer after each encode. We copy the bytes out at once, so without it
 * the buffer only fills up and cbor-x allocates a fresh 8 KiB one every few dozen messages.
 */
const RESET_BUFFER_MODE = 1024;
const encodeInPlace = encoder as unknown as { encode(value: unknown, mode: number): Uint8Array };

const decoder = new Decoder({ useRecords: false, mapsAsObjects: false } as ConstructorParameters<typeof Decoder>[0]);

export function cborEncode(value: unknown): Uint8Array {
  // cbor-x returns a view on its shared buffer; copy so callers own the bytes.
  const out = encodeInPlace.encode(value, RESET_BUFFER_MODE);
  return new Uint8Array(out);
}

/**
 * Decodes exactly one CBOR item; throws on truncation, trailing bytes, or nesting deeper
 * than `maxDepth` (checked first by an iterative scan: cbor-x recurses per level, and too
 * many levels abort the XS engine instead of throwing). Integers sent with an 8-byte head
 * come back as numbers when they are safe integers (cbor-x would return a BigInt).
 */
export function cborDecode(bytes: Uint8Array, maxDepth = CBOR_MAX_DEPTH): unknown {
  const scan = scanCbor(bytes, maxDepth);
  const value: unknown = decoder.decode(bytes);
  return scan.hasInt64 ? safeIntegers(value) : value;
}

/** BigInts that fit a safe integer become numbers; the depth is bounded by the scan. */
function safeIntegers(v: unknown): unknown {
  if (typeof v === "bigint") return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = safeIntegers(v[i]);
    return v;
  }
  if (v instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, x] of v) out.set(safeIntegers(k), safeIntegers(x));
    return out;
  }
  return v;
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

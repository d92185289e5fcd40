/**
 * The one cbor-x configuration every Tether message uses (telemetry, config, OTA): plain CBOR any backend
 * can decode (no record extension, no tag 259 on maps, no tag 64 on byte strings), and
 * maps decoded as Map so small integer keys stay integers.
 */
import { Decoder, Encoder } from "cbor-x";

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

/** Decodes exactly one CBOR item; throws on truncation or trailing bytes. */
export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

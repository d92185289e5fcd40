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

const decoder = new Decoder({ useRecords: false, mapsAsObjects: false } as ConstructorParameters<typeof Decoder>[0]);

export function cborEncode(value: unknown): Uint8Array {
  // cbor-x returns a view on its shared buffer on some paths; copy so callers own the bytes.
  const out = encoder.encode(value);
  return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

/** Decodes exactly one CBOR item; throws on truncation or trailing bytes. */
export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

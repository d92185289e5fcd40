/** Plain CBOR for OTA messages: no cbor-x records or tags, maps decoded as Map (integer keys stay integers). */
import { Decoder, Encoder } from "cbor-x";

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  useTag259ForMaps: false,
  tagUint8Array: false,
} as ConstructorParameters<typeof Encoder>[0]);
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false } as ConstructorParameters<typeof Decoder>[0]);

export function cborEncode(value: unknown): Uint8Array {
  const out = encoder.encode(value);
  return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

/** Exactly one CBOR item; throws on truncation or trailing bytes. */
export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

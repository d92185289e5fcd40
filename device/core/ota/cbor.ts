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
  // cbor-x may return a view on its shared buffer: copy so callers own the bytes.
  const out = encoder.encode(value);
  const copy = new Uint8Array(out.length);
  copy.set(out);
  return copy;
}

/** Exactly one CBOR item; throws on truncation or trailing bytes. */
export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

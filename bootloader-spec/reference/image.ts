/**
 * The application image as it sits in a slot (ESP-IDF: esp_image_header_t + esp_app_desc_t +
 * the appended SHA-256). The bootloader checks the appended hash before it boots a slot, so
 * a half-written or torn slot is never run, whatever the boot records say.
 *
 *   0 u32 magic "TIMG"   4 u32 payload length   8 u32 version   12 u8[16] hardware id (ASCII,
 *   zero padded)   28 u32 reserved (0)   32.. payload   then 32 bytes SHA-256(header ‖ payload)
 */
import type { FlashPartition, Sha256 } from "../../device/ports";

export const IMAGE_MAGIC = 0x474d4954; // "TIMG" little endian
export const IMAGE_HEADER_SIZE = 32;
export const IMAGE_HASH_SIZE = 32;
export const HARDWARE_ID_MAX = 16;
/** Bytes read per hash update: bounded RAM on the board. */
const READ_CHUNK = 4096;

export interface ImageHeader {
  payloadLength: number;
  version: number;
  hardwareId: string;
}

export function imageLength(payloadLength: number): number {
  return IMAGE_HEADER_SIZE + payloadLength + IMAGE_HASH_SIZE;
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new Error(`hardware id must be printable ASCII: ${JSON.stringify(s)}`);
    out[i] = c;
  }
  return out;
}

export function encodeHeader(h: ImageHeader): Uint8Array {
  const hw = asciiBytes(h.hardwareId);
  if (hw.length === 0 || hw.length > HARDWARE_ID_MAX) throw new Error(`hardware id must be 1..${HARDWARE_ID_MAX} characters`);
  if (!Number.isInteger(h.version) || h.version < 0 || h.version > 0xffffffff) throw new Error("version must be a u32");
  const b = new Uint8Array(IMAGE_HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, IMAGE_MAGIC, true);
  v.setUint32(4, h.payloadLength, true);
  v.setUint32(8, h.version, true);
  b.set(hw, 12);
  return b;
}

/** Parses a header; undefined when it is not one. */
export function decodeHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < IMAGE_HEADER_SIZE) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, IMAGE_HEADER_SIZE);
  if (v.getUint32(0, true) !== IMAGE_MAGIC || v.getUint32(28, true) !== 0) return undefined;
  let hw = "";
  for (let i = 12; i < 12 + HARDWARE_ID_MAX && b[i] !== 0; i++) {
    if (b[i] < 0x20 || b[i] > 0x7e) return undefined;
    hw += String.fromCharCode(b[i]);
  }
  if (hw.length === 0) return undefined;
  return { payloadLength: v.getUint32(4, true), version: v.getUint32(8, true), hardwareId: hw };
}

/** Builds a slot image around an application payload (used by `tether ota sign` and host-sim). */
export function wrapImage(payload: Uint8Array, version: number, hardwareId: string, sha256: Sha256): Uint8Array {
  const header = encodeHeader({ payloadLength: payload.length, version, hardwareId });
  const out = new Uint8Array(imageLength(payload.length));
  out.set(header, 0);
  out.set(payload, IMAGE_HEADER_SIZE);
  const h = sha256.create();
  h.update(out.subarray(0, IMAGE_HEADER_SIZE + payload.length));
  out.set(h.digest(), IMAGE_HEADER_SIZE + payload.length);
  return out;
}

/** The payload of a wrapped image held in memory (no hash check: callers verified it). */
export function imagePayload(image: Uint8Array): Uint8Array {
  const h = decodeHeader(image);
  if (!h || imageLength(h.payloadLength) > image.length) throw new Error("not a slot image");
  return image.subarray(IMAGE_HEADER_SIZE, IMAGE_HEADER_SIZE + h.payloadLength);
}

export type SlotCheck = { ok: true; header: ImageHeader } | { ok: false; reason: string };

/** What the bootloader runs before it boots a slot: header sane, fits, appended hash matches. */
export function verifySlotImage(part: FlashPartition, sha256: Sha256): SlotCheck {
  const header = decodeHeader(part.read(0, IMAGE_HEADER_SIZE));
  if (!header) return { ok: false, reason: "no image header" };
  const body = IMAGE_HEADER_SIZE + header.payloadLength;
  if (imageLength(header.payloadLength) > part.size) return { ok: false, reason: "image larger than slot" };
  const h = sha256.create();
  for (let off = 0; off < body; off += READ_CHUNK) h.update(part.read(off, Math.min(READ_CHUNK, body - off)));
  const got = h.digest();
  const want = part.read(body, IMAGE_HASH_SIZE);
  for (let i = 0; i < IMAGE_HASH_SIZE; i++) if (got[i] !== want[i]) return { ok: false, reason: "image hash mismatch" };
  return { ok: true, header };
}

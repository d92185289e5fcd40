/**
 * The last check before a staged image is marked pending: does the slot hold an image the
 * bootloader will accept, for the version and hardware the manifest names? The format is the
 * platform's: Tether's slot image (bootloader-spec, host-sim) or an ESP-IDF app image (ESP32,
 * whose bootloader then checks its own checksum and appended SHA-256).
 */
import type { Sha256 } from "../../ports";
import { decodeHeader, IMAGE_HASH_SIZE, IMAGE_HEADER_SIZE, imageLength } from "../../../bootloader-spec/reference/image";
import { bytesEqual } from "./bytes";
import type { Manifest } from "./manifest";

/** Returns why the image is unacceptable, or undefined. `read` reads the staged slot. */
export type ImageCheck = (read: (offset: number, length: number) => Uint8Array, m: Manifest, sha256: Sha256) => string | undefined;

const CHUNK = 4096;

/** Tether slot image: header agrees with the manifest, appended SHA-256 matches. */
export const tetherImageCheck: ImageCheck = (read, m, sha256) => {
  const body = m.length - IMAGE_HASH_SIZE;
  if (body < IMAGE_HEADER_SIZE) return "image too short for a header";
  const header = decodeHeader(read(0, IMAGE_HEADER_SIZE));
  if (!header) return "no Tether image header";
  if (imageLength(header.payloadLength) !== m.length) return `image header says ${imageLength(header.payloadLength)} bytes, manifest ${m.length}`;
  if (header.version !== m.version) return `image header version ${header.version}, manifest ${m.version}`;
  if (header.hardwareId !== m.hardwareId) return `image header hardware "${header.hardwareId}", manifest "${m.hardwareId}"`;
  const h = sha256.create();
  for (let off = 0; off < body; off += CHUNK) h.update(read(off, Math.min(CHUNK, body - off)));
  if (!bytesEqual(h.digest(), read(body, IMAGE_HASH_SIZE))) return "appended image hash does not match";
  return undefined;
};

const ESP_IMAGE_MAGIC = 0xe9;
const ESP_APP_DESC_MAGIC = 0xabcd5432;
/** esp_image_header_t (24) + first esp_image_segment_header_t (8): esp_app_desc_t starts here. */
const ESP_APP_DESC_OFFSET = 32;

/**
 * ESP-IDF app image: image magic, and the esp_app_desc_t magic in the first segment. The
 * checksum and appended SHA-256 are the ESP-IDF bootloader's to check (it will refuse to boot
 * a bad one, and roll back); the manifest's SHA-256 already covered every byte.
 */
export const espIdfImageCheck: ImageCheck = (read, m) => {
  if (m.length < ESP_APP_DESC_OFFSET + 8) return "image too short for an ESP-IDF app";
  const head = read(0, ESP_APP_DESC_OFFSET + 4);
  if (head[0] !== ESP_IMAGE_MAGIC) return "not an ESP-IDF app image (magic)";
  const d = head[ESP_APP_DESC_OFFSET] | (head[ESP_APP_DESC_OFFSET + 1] << 8) | (head[ESP_APP_DESC_OFFSET + 2] << 16) | (head[ESP_APP_DESC_OFFSET + 3] << 24);
  if (d >>> 0 !== ESP_APP_DESC_MAGIC) return "ESP-IDF image without an app description";
  return undefined;
};

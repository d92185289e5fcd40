/** A bundle on disk: image.bin (the slot image), manifest.cbor (signed envelope), manifest.json (for humans). */
import fs from "node:fs";
import path from "node:path";
import { toHex } from "../../device/core/ota/bytes";
import type { Bundle } from "./bundle";

export const IMAGE_FILE = "image.bin";
export const MANIFEST_FILE = "manifest.cbor";
export const MANIFEST_JSON = "manifest.json";

export function writeBundle(dir: string, b: Bundle): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, IMAGE_FILE), b.image);
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), b.envelope);
  const m = b.manifest;
  const human = {
    version: m.version,
    hardwareId: m.hardwareId,
    length: m.length,
    sha256: toHex(m.sha256),
    blockSize: m.blockSize,
    blocks: m.blockHashes.length / 32,
    securityCounter: m.securityCounter,
    expiry: m.expiry,
  };
  fs.writeFileSync(path.join(dir, MANIFEST_JSON), JSON.stringify(human, null, 2) + "\n");
}

export function readBundle(dir: string): { image: Uint8Array; envelope: Uint8Array } {
  const read = (f: string) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) throw new Error(`bundle ${dir}: missing ${f}`);
    return new Uint8Array(fs.readFileSync(p));
  };
  return { image: read(IMAGE_FILE), envelope: read(MANIFEST_FILE) };
}

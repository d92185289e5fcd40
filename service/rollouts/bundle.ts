/** A signed bundle on the service's disk (what `tether ota sign` writes): image.bin + manifest.cbor. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseEnvelope, parseManifest, withRetryMarker, type Manifest } from "../../device/core/ota/manifest";

export interface LoadedBundle {
  dir: string;
  envelope: Uint8Array;
  image: Uint8Array;
  manifest: Manifest;
  /** Blocks of the image, as the manifest cuts them. */
  blocks: Uint8Array[];
  /** SHA-256 of the envelope: the offer id devices echo in their status (field 9). */
  offerId: Uint8Array;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

export function loadBundle(dir: string): LoadedBundle {
  const read = (f: string) => {
    const p = path.join(dir, f);
    try {
      return new Uint8Array(fs.readFileSync(p));
    } catch (err) {
      throw new BundleError(`bundle ${dir}: cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const envelope = read("manifest.cbor");
  const image = read("image.bin");
  let manifest: Manifest;
  try {
    manifest = parseManifest(parseEnvelope(envelope).manifestBytes);
  } catch (err) {
    throw new BundleError(`bundle ${dir}: manifest.cbor is not a signed Tether manifest (${(err as Error).message})`);
  }
  if (image.length !== manifest.length) throw new BundleError(`bundle ${dir}: image.bin is ${image.length} bytes, the manifest says ${manifest.length}`);
  const blocks: Uint8Array[] = [];
  for (let o = 0; o < image.length; o += manifest.blockSize) blocks.push(image.subarray(o, Math.min(image.length, o + manifest.blockSize)));
  const offerId = new Uint8Array(crypto.createHash("sha256").update(envelope).digest());
  return { dir, envelope, image, manifest, blocks, offerId };
}

/** The same signed offer with the retry marker (an ambiguous rejection's one retry; docs/fleet-service.md). */
export function retryBundle(b: LoadedBundle): LoadedBundle {
  const envelope = withRetryMarker(b.envelope);
  return { ...b, envelope, offerId: new Uint8Array(crypto.createHash("sha256").update(envelope).digest()) };
}

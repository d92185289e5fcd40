/**
 * `tether ota verify`: checks a bundle the way a device does. The manifest goes through the
 * device's own verifyOffer; the image is then checked block by block and as a whole, with the
 * same result codes the device reports.
 */
import type { Sha256 } from "../../device/ports";
import { bytesEqual, sha256Of } from "../../device/core/ota/bytes";
import { OtaResult, resultName } from "../../device/core/ota/codes";
import { tweetnaclVerify } from "../../device/core/ota/ed25519";
import { blockCount, blockHash, blockLength, type Manifest } from "../../device/core/ota/manifest";
import { trustKeys, verifyOffer } from "../../device/core/ota/verify";
import { decodeHeader } from "../../bootloader-spec/reference/image";
import { espIdfImageCheck, tetherImageCheck } from "../../device/core/ota/image-check";

export interface DeviceView {
  hardwareId?: string;
  runningVersion?: number;
  securityCounter?: number;
  slotSize?: number;
  /** Unix seconds; undefined = use the host clock. */
  nowSeconds?: number;
  rejected?: number[];
  /** Image format to check; default: "tether" when the image starts with a Tether header, else "raw". */
  format?: "tether" | "esp-idf" | "raw";
}

export type CheckResult = { ok: true; manifest: Manifest } | { ok: false; result: number; name: string; detail: string };


export function checkBundle(envelope: Uint8Array, image: Uint8Array, publicKeys: Uint8Array[], sha256: Sha256, view: DeviceView = {}): CheckResult {
  const no = (result: number, detail: string): CheckResult => ({ ok: false, result, name: resultName(result), detail });
  // Without --hardware, accept the manifest's own hardware id (checked against the image header below).
  let hardwareId = view.hardwareId;
  if (hardwareId === undefined) {
    const h = decodeHeader(image);
    hardwareId = h?.hardwareId ?? "";
  }
  const v = verifyOffer(envelope, {
    trustedKeys: trustKeys(publicKeys, sha256),
    hardwareId,
    slotSize: view.slotSize ?? 0xffffffff,
    runningVersion: view.runningVersion ?? 0,
    securityCounter: view.securityCounter ?? 0,
    isRejected: (x) => (view.rejected ?? []).includes(x),
    nowSeconds: view.nowSeconds ?? Math.floor(Date.now() / 1000),
    verifySignature: tweetnaclVerify,
  });
  if (!v.ok) return no(v.result, v.detail);
  const m = v.manifest;
  if (image.length !== m.length) return no(OtaResult.IntegrityFailure, `image is ${image.length} bytes, manifest says ${m.length}`);
  for (let i = 0; i < blockCount(m.length, m.blockSize); i++) {
    const b = image.subarray(i * m.blockSize, i * m.blockSize + blockLength(m, i));
    if (!bytesEqual(sha256Of(sha256, b), blockHash(m, i))) return no(OtaResult.IntegrityFailure, `block ${i} does not match its hash`);
  }
  if (!bytesEqual(sha256Of(sha256, image), m.sha256)) return no(OtaResult.IntegrityFailure, "image hash does not match the manifest");
  const format = view.format ?? (decodeHeader(image) ? "tether" : "raw");
  const check = format === "tether" ? tetherImageCheck : format === "esp-idf" ? espIdfImageCheck : undefined;
  const bad = check?.((off, len) => image.subarray(off, off + len), m, sha256);
  if (bad !== undefined) return no(OtaResult.UnsupportedPackage, `image refused: ${bad}`);
  return { ok: true, manifest: m };
}

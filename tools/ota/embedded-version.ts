/**
 * The firmware version a Tether agent build reports, read from the first line its build writes
 * (scripts/build.mjs FIRMWARE_VERSION_BANNER). A manifest that names another version makes an
 * endless update loop (the device runs and reports the build's version, so the offer looks new
 * again): `ota sign` refuses it and `ota verify` flags it.
 */
import { decodeHeader, IMAGE_HEADER_SIZE } from "../../bootloader-spec/reference/image";
import { versionNumber, versionString } from "../../device/core/ota/version";

export const FIRMWARE_VERSION_BANNER = "// tether-firmware-version: ";
const MAX_LINE = 128;

/** The version string a payload (an agent build) declares, or undefined when it declares none. */
export function embeddedVersion(payload: Uint8Array): string | undefined {
  const head = new TextDecoder("latin1").decode(payload.subarray(0, FIRMWARE_VERSION_BANNER.length + MAX_LINE));
  if (!head.startsWith(FIRMWARE_VERSION_BANNER)) return undefined;
  const end = head.search(/[\r\n]/);
  return end < 0 ? undefined : head.slice(FIRMWARE_VERSION_BANNER.length, end);
}

/** Why the payload's declared version disagrees with `version` (a manifest version number), or undefined. */
export function versionMismatch(payload: Uint8Array, version: number): string | undefined {
  const declared = embeddedVersion(payload);
  if (declared === undefined) return undefined;
  let n: number;
  try {
    n = versionNumber(declared);
  } catch {
    return `the image declares firmware version "${declared}", which is not a version`;
  }
  if (n === version) return undefined;
  return `the image is a build of firmware ${declared} (${n}) but the manifest says ${versionString(version)} (${version}): the device would run ${declared}, see the offer as new again and update for ever`;
}

/** The same check on a Tether slot image (header + payload + hash). */
export function slotImageVersionMismatch(image: Uint8Array, version: number): string | undefined {
  const header = decodeHeader(image);
  if (!header) return undefined;
  return versionMismatch(image.subarray(IMAGE_HEADER_SIZE, IMAGE_HEADER_SIZE + header.payloadLength), version);
}

/**
 * Manifest checks, in the order the device runs them (the CLI's `tether ota verify` calls the
 * same function): envelope shape, known key, signature, manifest shape, hardware, size,
 * security counter, version, rejected list, expiry. The first failure decides the result code.
 */
import type { Sha256 } from "../../ports";
import { bytesEqual, sha256Of } from "./bytes";
import { OtaResult } from "./codes";
import type { SignatureCheck } from "./ed25519";
import { KEY_ID_SIZE, ManifestError, parseEnvelope, parseManifest, type Envelope, type Manifest } from "./manifest";

export interface TrustedKey {
  id: Uint8Array;
  publicKey: Uint8Array;
}

export interface VerifyContext {
  trustedKeys: TrustedKey[];
  hardwareId: string;
  /** Bytes available in the inactive slot. */
  slotSize: number;
  runningVersion: number;
  /** Highest security counter accepted so far. */
  securityCounter: number;
  isRejected(version: number): boolean;
  /** A rejected version the fleet's retry marker may lift (cause unknown, not lifted before). */
  canLift?(version: number): boolean;
  /** Unix seconds, undefined while the wall clock is not synced. */
  nowSeconds: number | undefined;
  verifySignature: SignatureCheck;
}

export type Verdict =
  /** lift: the version is rejected, and this offer's retry marker lifts that rejection (once). */
  | { ok: true; manifest: Manifest; envelope: Envelope; lift?: boolean }
  | { ok: false; result: number; detail: string; version?: number };

/** Key id: the first 8 bytes of SHA-256(public key). */
export function keyIdOf(publicKey: Uint8Array, sha256: Sha256): Uint8Array {
  return sha256Of(sha256, publicKey).slice(0, KEY_ID_SIZE);
}

export function trustKeys(publicKeys: Uint8Array[], sha256: Sha256): TrustedKey[] {
  return publicKeys.map((publicKey) => ({ id: keyIdOf(publicKey, sha256), publicKey }));
}

export function verifyOffer(bytes: Uint8Array, ctx: VerifyContext): Verdict {
  let envelope: Envelope;
  try {
    envelope = parseEnvelope(bytes);
  } catch (e) {
    return { ok: false, result: OtaResult.UnsupportedPackage, detail: errText(e) };
  }
  const key = ctx.trustedKeys.find((k) => bytesEqual(k.id, envelope.keyId));
  if (!key) return { ok: false, result: OtaResult.UnknownKey, detail: "manifest signed by an unknown key" };
  let good = false;
  try {
    good = ctx.verifySignature(envelope.manifestBytes, envelope.signature, key.publicKey);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, result: OtaResult.SignatureRejected, detail: "bad manifest signature" };

  let m: Manifest;
  try {
    m = parseManifest(envelope.manifestBytes);
  } catch (e) {
    return { ok: false, result: OtaResult.UnsupportedPackage, detail: errText(e) };
  }
  const v = m.version;
  if (m.hardwareId !== ctx.hardwareId) {
    return { ok: false, result: OtaResult.WrongHardware, detail: `image for hardware "${m.hardwareId}", this is "${ctx.hardwareId}"`, version: v };
  }
  if (m.length > ctx.slotSize) {
    return { ok: false, result: OtaResult.NoFlash, detail: `image of ${m.length} bytes does not fit the ${ctx.slotSize}-byte slot`, version: v };
  }
  if (m.securityCounter < ctx.securityCounter) {
    return { ok: false, result: OtaResult.DowngradeRefused, detail: `security counter ${m.securityCounter} below ${ctx.securityCounter}`, version: v };
  }
  if (v < ctx.runningVersion) {
    return { ok: false, result: OtaResult.DowngradeRefused, detail: `version ${v} is older than running ${ctx.runningVersion}`, version: v };
  }
  const lift = ctx.isRejected(v) && envelope.retryAmbiguous === true && ctx.canLift?.(v) === true;
  if (ctx.isRejected(v) && !lift) {
    return { ok: false, result: OtaResult.PreviouslyRejected, detail: `version ${v} was rolled back or failed before; not retried`, version: v };
  }
  if (m.expiry !== undefined) {
    if (ctx.nowSeconds === undefined) return { ok: false, result: OtaResult.Deferred, detail: "time not synced: cannot check expiry", version: v };
    if (ctx.nowSeconds >= m.expiry) return { ok: false, result: OtaResult.Expired, detail: `manifest expired at ${m.expiry}`, version: v };
  }
  return lift ? { ok: true, manifest: m, envelope, lift } : { ok: true, manifest: m, envelope };
}

function errText(e: unknown): string {
  return e instanceof ManifestError ? e.message : `manifest: ${e instanceof Error ? e.message : String(e)}`;
}

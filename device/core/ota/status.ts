/** The OTA status message (CBOR map, CDDL in docs/protocol/ota.md). */
import { cborDecode, cborEncode } from "../util/cbor";
import type { OtaStateCode } from "./codes";

export const S_STATE = 1;
export const S_RESULT = 2;
export const S_VERSION = 3;
export const S_RECEIVED = 4;
export const S_TOTAL = 5;
export const S_DETAIL = 6;
export const S_RUNNING = 7;
export const S_CAUSE = 8;
export const S_OFFER = 9;
export const S_ATTEMPT = 10;

/** Longest detail text sent (characters); longer ones are cut. */
export const DETAIL_MAX = 200;
/** Length of the offer id: SHA-256 of the manifest message payload. */
export const OFFER_ID_LENGTH = 32;

export interface OtaStatus {
  state: OtaStateCode;
  result: number;
  /** The version the status is about (the offered one). */
  version?: number;
  received?: number;
  total?: number;
  detail?: string;
  /** The version running now (the confirmed manifest's version, not the build's). */
  running: number;
  /** Why a trial ended (TrialCause), with results 105 and 109. */
  cause?: number;
  /** SHA-256 of the manifest message payload (the envelope, manifest.cbor) this status is about. */
  offer?: Uint8Array;
  /** Trial boots of `version` so far (with 105, 109 and trial reports). */
  attempt?: number;
}

export function encodeStatus(s: OtaStatus): Uint8Array {
  const m = new Map<number, unknown>([
    [S_STATE, s.state],
    [S_RESULT, s.result],
  ]);
  if (s.version !== undefined) m.set(S_VERSION, s.version);
  if (s.received !== undefined) m.set(S_RECEIVED, s.received);
  if (s.total !== undefined) m.set(S_TOTAL, s.total);
  if (s.detail !== undefined) m.set(S_DETAIL, s.detail.length > DETAIL_MAX ? s.detail.slice(0, DETAIL_MAX) : s.detail);
  m.set(S_RUNNING, s.running);
  if (s.cause !== undefined) m.set(S_CAUSE, s.cause);
  if (s.offer !== undefined) m.set(S_OFFER, s.offer);
  if (s.attempt !== undefined) m.set(S_ATTEMPT, s.attempt);
  return cborEncode(m);
}

/** Tolerant: unknown keys are ignored and a field of the wrong type (or not a uint) reads as absent. */
export function decodeStatus(bytes: Uint8Array): OtaStatus {
  const m = cborDecode(bytes);
  if (!(m instanceof Map)) throw new Error("ota status: not a CBOR map");
  const num = (k: number) => {
    const v = m.get(k);
    return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined; // every number here is a uint
  };
  const offer = m.get(S_OFFER);
  const s: OtaStatus = {
    state: (num(S_STATE) ?? 0) as OtaStateCode,
    result: num(S_RESULT) ?? 0,
    version: num(S_VERSION),
    received: num(S_RECEIVED),
    total: num(S_TOTAL),
    detail: typeof m.get(S_DETAIL) === "string" ? (m.get(S_DETAIL) as string) : undefined,
    running: num(S_RUNNING) ?? 0,
    cause: num(S_CAUSE),
    offer: offer instanceof Uint8Array && offer.length === OFFER_ID_LENGTH ? offer : undefined,
    attempt: num(S_ATTEMPT),
  };
  for (const k of Object.keys(s) as (keyof OtaStatus)[]) if (s[k] === undefined) delete s[k];
  return s;
}

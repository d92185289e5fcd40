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

export interface OtaStatus {
  state: OtaStateCode;
  result: number;
  /** The version the status is about (the offered one). */
  version?: number;
  received?: number;
  total?: number;
  detail?: string;
  /** The version running now. */
  running: number;
}

export function encodeStatus(s: OtaStatus): Uint8Array {
  const m = new Map<number, unknown>([
    [S_STATE, s.state],
    [S_RESULT, s.result],
  ]);
  if (s.version !== undefined) m.set(S_VERSION, s.version);
  if (s.received !== undefined) m.set(S_RECEIVED, s.received);
  if (s.total !== undefined) m.set(S_TOTAL, s.total);
  if (s.detail !== undefined) m.set(S_DETAIL, s.detail);
  m.set(S_RUNNING, s.running);
  return cborEncode(m);
}

export function decodeStatus(bytes: Uint8Array): OtaStatus {
  const m = cborDecode(bytes);
  if (!(m instanceof Map)) throw new Error("ota status: not a CBOR map");
  const num = (k: number) => (typeof m.get(k) === "number" ? (m.get(k) as number) : undefined);
  return {
    state: (num(S_STATE) ?? 0) as OtaStateCode,
    result: num(S_RESULT) ?? 0,
    version: num(S_VERSION),
    received: num(S_RECEIVED),
    total: num(S_TOTAL),
    detail: typeof m.get(S_DETAIL) === "string" ? (m.get(S_DETAIL) as string) : undefined,
    running: num(S_RUNNING) ?? 0,
  };
}

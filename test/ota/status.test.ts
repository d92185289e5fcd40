/** The OTA status message: new fields round-trip, old messages and unknown keys still decode. */
import { describe, expect, it } from "vitest";
import { cborEncode } from "../../device/core/util/cbor";
import { decodeStatus, DETAIL_MAX, encodeStatus } from "../../device/core/ota/status";
import { OtaResult, TrialCause } from "../../device/core/ota/codes";

describe("OTA status", () => {
  it("carries cause, offer id and attempt (fields 8, 9, 10)", () => {
    const offer = new Uint8Array(32).fill(0xab);
    const s = { state: 0 as const, result: OtaResult.TrialInterrupted, version: 2_000_001, running: 1_000_000, cause: TrialCause.PowerLoss, offer, attempt: 2 };
    expect(decodeStatus(encodeStatus(s))).toEqual(s);
  });

  it("decodes a status from before the new fields, and ignores keys it does not know", () => {
    const old = cborEncode(new Map<number, unknown>([[1, 0], [2, 105], [3, 7], [6, "rolled back"], [7, 5], [42, "future"]]));
    expect(decodeStatus(old)).toEqual({ state: 0, result: 105, version: 7, detail: "rolled back", running: 5 });
  });

  it("reads a field of the wrong type, or an offer id of the wrong size, as absent", () => {
    const odd = cborEncode(new Map<number, unknown>([[1, 0], [2, 101], [7, 1], [8, "power"], [9, new Uint8Array(8)], [10, -1.5]]));
    expect(decodeStatus(odd)).toEqual({ state: 0, result: 101, running: 1 });
  });

  it("cuts a long detail to the documented bound", () => {
    const s = decodeStatus(encodeStatus({ state: 0, result: 6, running: 1, detail: "x".repeat(5000) }));
    expect(s.detail).toHaveLength(DETAIL_MAX);
  });
});

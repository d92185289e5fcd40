/** `ota push --wait`: which device statuses end the wait for this offer. */
import { describe, expect, it } from "vitest";
import { isFinal } from "../../tools/ota/push";
import type { OtaStatus } from "../../device/core/ota/status";

const OURS = new Uint8Array(32).fill(1);
const OTHER = new Uint8Array(32).fill(2);
const V = 2_000_000;
const st = (s: Partial<OtaStatus>): OtaStatus => ({ state: 0, result: 0, running: 1_000_000, ...s }) as OtaStatus;

describe("isFinal", () => {
  it("a refusal that names no version and no offer (unknown key, unreadable envelope) is final", () => {
    expect(isFinal(st({ result: 101 }), V, OURS)).toBe(true);
    expect(isFinal(st({ result: 6 }), V, OURS)).toBe(true);
    expect(isFinal(st({ result: 100 }), V, OURS)).toBe(true);
  });
  it("a status that names an offer or a version counts only when it is this one", () => {
    expect(isFinal(st({ result: 101, offer: OURS }), V, OURS)).toBe(true);
    expect(isFinal(st({ result: 101, offer: OTHER }), V, OURS)).toBe(false);
    expect(isFinal(st({ result: 1, version: V, offer: OURS }), V, OURS)).toBe(true);
    expect(isFinal(st({ result: 105, version: V }), V, OURS)).toBe(true);
    expect(isFinal(st({ result: 105, version: V - 1 }), V, OURS)).toBe(false);
  });
  it("progress, deferral and a bare success are not final", () => {
    expect(isFinal(st({ state: 1, result: 0, version: V }), V, OURS)).toBe(false);
    expect(isFinal(st({ result: 11, version: V }), V, OURS)).toBe(false);
    expect(isFinal(st({ result: 0 }), V, OURS)).toBe(false);
    expect(isFinal(st({ result: 1 }), V, OURS)).toBe(false);
  });
});

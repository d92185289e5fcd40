/**
 * The fleet's "retry an ambiguous rejection" marker (envelope key 4, docs/protocol/ota.md): a
 * power cut in the first moments of an ESP-IDF trial boot rejects even a good release with
 * 105 cause 6; an offer carrying the marker lifts that rejection once per version, never a
 * crash, watchdog or unhealthy rejection, and never twice.
 */
import { describe, expect, it } from "vitest";
import { cborDecode, cborEncode } from "../../device/core/util/cbor";
import { OtaResult, TrialCause } from "../../device/core/ota/codes";
import { initialOta, step, type OtaInput, type OtaPolicy } from "../../device/core/ota/machine";
import { parseEnvelope, parseManifest, withRetryMarker } from "../../device/core/ota/manifest";
import { OtaStore, Stage } from "../../device/core/ota/store";
import type { OtaStatus } from "../../device/core/ota/status";
import { backendFor, bundle, factory, rig } from "./fixtures";
import { handDevice } from "./hand-device";

function statuses(r: { boots: { statuses: OtaStatus[] }[] }): OtaStatus[] {
  return r.boots.flatMap((b) => b.statuses);
}

/** A good release on ESP-IDF whose trial boot loses power at the bootloader's PENDING_VERIFY rewrite. */
function cutAtTrialStart(offer: Uint8Array) {
  const { flash, kv } = factory(1, undefined, undefined, "esp-idf");
  const b = bundle(2);
  const backend = { ...backendFor(b), manifest: offer === EMPTY ? b.envelope : offer };
  let cuts = 0;
  const r = rig(flash, kv, backend, () => "good", { bootModel: "esp-idf" });
  flash.fault = (op) => {
    // The first boot after a staged install: the bootloader's first otadata write.
    const trialBoot = r.boots.length >= 2 && r.boots[r.boots.length - 2].end === "restart";
    if (trialBoot && cuts < 1 && op.partition === "otadata") {
      cuts++;
      return { powerCut: true };
    }
    return undefined;
  };
  return { r, b, kv, backend, again: () => (cuts = 0) };
}
const EMPTY = new Uint8Array(0);

describe("the fleet lifts an ambiguous rejection once (issue 11 item 2, fleet side)", () => {
  it("a cut at the trial's first moments rejects a good release (105 cause 6); the marked offer installs it again and it lands", () => {
    const { r, b, backend } = cutAtTrialStart(EMPTY);
    const first = r.runUntilSteady();
    expect(first.version).toBe(1);
    expect(statuses(r).find((s) => s.result === OtaResult.RolledBack)).toMatchObject({ version: 2, cause: TrialCause.Unknown });
    // The plain offer stays refused.
    expect(r.runUntilSteady().statuses.at(-1)).toMatchObject({ result: OtaResult.PreviouslyRejected, version: 2 });
    backend.manifest = withRetryMarker(b.envelope);
    const last = r.runUntilSteady();
    expect(last.version).toBe(2);
    expect(statuses(r).at(-1)).toMatchObject({ result: OtaResult.Success, version: 2 });
  });

  it("the second ambiguous rejection of the same version is final: the marker no longer lifts it", () => {
    const { r, b, backend, again } = cutAtTrialStart(EMPTY);
    r.runUntilSteady();
    backend.manifest = withRetryMarker(b.envelope);
    again(); // the retried trial is cut the same way
    const second = r.runUntilSteady();
    expect(second.version).toBe(1);
    expect(statuses(r).filter((s) => s.result === OtaResult.RolledBack).map((s) => s.cause)).toEqual([TrialCause.Unknown, TrialCause.Unknown]);
    expect(r.runUntilSteady().statuses.at(-1)).toMatchObject({ result: OtaResult.PreviouslyRejected, version: 2 });
  });

  it("the marker does nothing for a crash, watchdog or unhealthy rejection (cause 3, 4, 5), nor for a rejection with no cause", () => {
    for (const cause of [TrialCause.Crash, TrialCause.Watchdog, TrialCause.Unhealthy, undefined]) {
      const { flash, kv } = factory(1);
      new OtaStore(kv).reject(2, 1, cause);
      const d = handDevice(flash, kv, 1, { softRestart: true });
      d.ota.offer(withRetryMarker(bundle(2).envelope));
      expect(d.ota.lastStatus(), `cause ${cause}`).toMatchObject({ result: OtaResult.PreviouslyRejected, version: 2 });
      expect(d.ota.state).toBe("idle");
    }
  });

  it("a crashed build stays rejected through a marked offer (rig, crash at start)", () => {
    const { flash, kv } = factory(1, undefined, undefined, "esp-idf");
    const b = bundle(2);
    const backend = backendFor(b);
    const r = rig(flash, kv, backend, (v) => (v === 2 ? "crash" : "good"), { bootModel: "esp-idf" });
    r.runUntilSteady();
    expect(statuses(r).find((s) => s.result === OtaResult.RolledBack)).toMatchObject({ version: 2, cause: TrialCause.Crash });
    backend.manifest = withRetryMarker(b.envelope);
    const boots = r.boots.length;
    r.runUntilSteady();
    expect(r.boots.slice(boots).every((x) => x.version === 1)).toBe(true);
    expect(statuses(r).at(-1)).toMatchObject({ result: OtaResult.PreviouslyRejected });
  });

  it("the lift is counted in NVS before any block is fetched, and a cause-6 rejection without the marker stays refused", () => {
    const { flash, kv } = factory(1);
    const store = new OtaStore(kv);
    store.reject(2, 1, TrialCause.Unknown);
    const d = handDevice(flash, kv, 1, { softRestart: true });
    d.ota.offer(bundle(2).envelope);
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.PreviouslyRejected });
    d.ota.offer(withRetryMarker(bundle(2).envelope));
    expect(d.ota.state).toBe("downloading");
    expect(store.rejection(2)).toEqual({ cause: TrialCause.Unknown, lifts: 1 });
    expect(store.isRejected(2)).toBe(false);
    expect(store.canLift(2)).toBe(false);
  });

  it("the marker is envelope key 4 with the value 1 only; anything else is refused (6)", () => {
    const marked = withRetryMarker(bundle(2).envelope);
    expect(parseEnvelope(marked).retryAmbiguous).toBe(true);
    expect(parseEnvelope(bundle(2).envelope).retryAmbiguous).toBeUndefined();
    const m = cborDecode(bundle(2).envelope) as Map<number, unknown>;
    for (const bad of [0, 2, true, "1"]) {
      m.set(4, bad);
      expect(() => parseEnvelope(cborEncode(m))).toThrow(/retry marker/);
    }
    const { flash, kv } = factory(1);
    const d = handDevice(flash, kv, 1, { softRestart: true });
    m.set(4, 2);
    d.ota.offer(cborEncode(m));
    expect(d.ota.lastStatus()).toMatchObject({ result: OtaResult.UnsupportedPackage });
  });
});

describe("the step function with a lifting verdict", () => {
  const POLICY: OtaPolicy = {
    codeVersion: 1, allowWithoutRollback: false, healthTimeoutMs: 1000, deferRetryMs: 500, window: 2, stallTimeoutMs: 300,
    maxStalls: 2, maxBadBlock: 2, progressEvery: 2, maxTrials: 3, retryBackoffMs: 700, bootRetryMs: 100,
  };
  const b = bundle(2);
  const envelope = parseEnvelope(withRetryMarker(b.envelope));
  const offer = new Uint8Array(32).fill(2);
  const facts = { runningSlot: 0 as const, runningState: "valid" as const, rollback: true, recordSeq: 1, reset: "power-on" as const };
  const idle = step(initialOta(1), { type: "boot", facts }, POLICY).model;
  const checked = (lift: boolean): OtaInput => ({
    type: "offer-checked", bytes: b.envelope, offer, slot: 1, eraseBlock: 4096,
    verdict: { ok: true, manifest: parseManifest(envelope.manifestBytes), envelope, ...(lift ? { lift } : {}) },
  });

  it("asks to lift (count in NVS) before it scans; without the lift it scans at once", () => {
    const lifted = step(idle, checked(true), POLICY);
    expect(lifted.op).toEqual({ type: "lift-rejection", version: 2 });
    expect(lifted.model.mode).toBe("downloading");
    const next = step(lifted.model, { type: "done", op: lifted.op! }, POLICY);
    expect(next.op).toMatchObject({ type: "scan", slot: 1 });
    expect(step(idle, checked(false), POLICY).op).toMatchObject({ type: "scan" });
  });

  it("a lift that NVS refuses fails the update (8) and downloads nothing", () => {
    const lifted = step(idle, checked(true), POLICY);
    const failed = step(lifted.model, { type: "failed", op: lifted.op!, port: "kv", detail: "full" }, POLICY);
    expect(failed.model.mode).toBe("idle");
    expect(failed.op).toBeUndefined();
    expect(failed.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.UpdateFailed, version: 2 } });
  });

  it("a rejection found again after a cut is reported with the cause kept beside it, not re-judged as unknown", () => {
    const a = { version: 2, slot: 1 as const, securityCounter: 0, seqBefore: 1, stage: Stage.Pending, attempts: 1, offer };
    const base = { ...facts, attempt: a, attemptSlotState: "aborted" as const, attemptRejected: true, reset: "power-on" as const };
    const kept = step(initialOta(1), { type: "boot", facts: { ...base, attemptRejectedCause: TrialCause.Crash } }, POLICY);
    expect(kept.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.RolledBack, cause: TrialCause.Crash } });
    const none = step(initialOta(1), { type: "boot", facts: base }, POLICY);
    expect(none.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.RolledBack, cause: TrialCause.Unknown } });
  });

  it("a trial that ends with cause 6 asks to reject with its cause kept", () => {
    const a = { version: 2, slot: 1 as const, securityCounter: 0, seqBefore: 1, stage: Stage.Pending, attempts: 1, offer };
    const r = step(initialOta(1), { type: "boot", facts: { ...facts, attempt: a, attemptSlotState: "undefined", reset: "power-on" } }, POLICY);
    expect(r.op).toEqual({ type: "reject", version: 2, running: 1, cause: TrialCause.Unknown });
  });
});

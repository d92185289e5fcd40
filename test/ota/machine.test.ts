/**
 * The OTA step function, explored over its inputs: from every boot situation, every reachable
 * model is fed every input it can meet (offers, blocks, link events, timers, stale timers) and,
 * when an op is pending, every outcome of that op, each port failure included. Invariants are
 * checked on every transition. No ports, no clock: the machine is pure.
 */
import { describe, expect, it } from "vitest";
import { initialOta, step, type BootFacts, type OtaInput, type OtaModel, type OtaOp, type OtaPolicy, type PortName, type StepResult } from "../../device/core/ota/machine";
import { isRetryableCause, OtaResult, TrialCause } from "../../device/core/ota/codes";
import { causeOfReset, judgeTrial } from "../../device/core/ota/trial-outcome";
import { parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { Stage, type AttemptRecord, type StageCode } from "../../device/core/ota/store";
import type { ImageState, ResetReason, SlotIndex } from "../../device/ports";
import type { Verdict } from "../../device/core/ota/verify";
import { BLOCK, bundle } from "./fixtures";

const POLICY: OtaPolicy = {
  codeVersion: 1,
  allowWithoutRollback: false,
  healthTimeoutMs: 1000,
  deferRetryMs: 500,
  window: 2,
  stallTimeoutMs: 300,
  maxStalls: 2,
  maxBadBlock: 2,
  progressEvery: 2,
  maxTrials: 3,
  retryBackoffMs: 700,
  bootRetryMs: 100,
};

const V2 = bundle(2, { size: 2 * BLOCK + 100 }); // 3 blocks
const V3 = bundle(3, { size: BLOCK + 1 }); // 2 blocks
const ID2 = new Uint8Array(32).fill(2);
const ID3 = new Uint8Array(32).fill(3);
const GARBAGE = new Uint8Array([1, 2, 3]);
const ID_GARBAGE = new Uint8Array(32).fill(9);

function okVerdict(b: typeof V2): Verdict {
  const envelope = parseEnvelope(b.envelope);
  return { ok: true, manifest: parseManifest(envelope.manifestBytes), envelope };
}

const PORTS: PortName[] = ["flash", "kv", "sha", "boot"];

/** Every outcome an op can have, failures included. */
function outcomes(op: OtaOp, m: OtaModel): OtaInput[] {
  const failures: OtaInput[] = PORTS.map((port) => ({ type: "failed", op, port, detail: `${port} fault` }));
  const done: OtaInput = { type: "done", op };
  const other: SlotIndex = m.runningSlot === 0 ? 1 : 0;
  switch (op.type) {
    case "check-offer": {
      const base = { bytes: op.bytes, offer: op.offer, slot: other, eraseBlock: BLOCK };
      if (op.bytes === GARBAGE) return [...failures, { type: "offer-checked", ...base, verdict: { ok: false, result: OtaResult.UnsupportedPackage, detail: "not CBOR" } }];
      const b = op.bytes === V2.envelope ? V2 : V3;
      return [
        ...failures,
        { type: "offer-checked", ...base, verdict: okVerdict(b) },
        { type: "offer-checked", ...base, verdict: okVerdict(b), blocked: "battery low" },
        { type: "offer-checked", ...base, verdict: { ok: false, result: OtaResult.UnknownKey, detail: "unknown key" } },
        { type: "offer-checked", ...base, verdict: { ok: false, result: OtaResult.Deferred, detail: "time not synced", version: b.manifest.version } },
        { type: "offer-checked", ...base, verdict: { ok: false, result: OtaResult.PreviouslyRejected, detail: "rejected", version: b.manifest.version } },
      ];
    }
    case "scan": {
      const n = m.job?.total ?? 0;
      const none = new Uint8Array(n);
      const all = new Uint8Array(n).fill(1);
      const first = new Uint8Array(n);
      first[0] = 1;
      return [...failures, { type: "scanned", have: none }, { type: "scanned", have: first }, { type: "scanned", have: all }];
    }
    case "store-block":
      return [...failures, { type: "block-stored", index: op.index }, { type: "block-bad", index: op.index, length: op.bytes.length }];
    case "verify-image":
      return [...failures, { type: "image-ok" }, { type: "image-bad", result: OtaResult.IntegrityFailure, detail: "hash" }, { type: "image-bad", result: OtaResult.UnsupportedPackage, detail: "format" }];
    case "save-attempt":
      return [...failures, { type: "done", op: op.record.seqBefore < 0 ? { ...op, record: { ...op.record, seqBefore: 7 } } : op }];
    case "rollback":
      return [...failures, { type: "failed", op, port: "boot", detail: "ESP_ERR_OTA_ROLLBACK_FAILED", rollbackFailed: true }, done];
    default:
      return [...failures, done];
  }
}

/** Inputs from the outside world, offered in every state without a pending op. */
function external(m: OtaModel): OtaInput[] {
  const block = (b: typeof V2, i: number): OtaInput => ({ type: "block", index: i, bytes: new Uint8Array(Math.min(BLOCK, b.image.length - i * BLOCK)) });
  const b = m.job?.envelope === V3.envelope ? V3 : V2;
  const inputs: OtaInput[] = [
    { type: "offer", bytes: V2.envelope, offer: ID2 },
    { type: "offer", bytes: V3.envelope, offer: ID3 },
    { type: "offer", bytes: GARBAGE, offer: ID_GARBAGE },
    { type: "offer", bytes: new Uint8Array(0), offer: new Uint8Array(0) },
    { type: "resume" },
    { type: "connected" },
    { type: "disconnected" },
    { type: "telemetry-acked" },
    { type: "block", index: 7, bytes: new Uint8Array(10) },
    { type: "block", index: 0, bytes: new Uint8Array(10) }, // wrong length
    { ...block(b, 1), blocked: "busy" } as OtaInput,
  ];
  for (let i = 0; i < (m.job?.total ?? 0); i++) inputs.push(block(b, i));
  for (const kind of ["stall", "defer", "health", "retry-valid", "retry-rollback"] as const) inputs.push({ type: "timer", kind });
  return inputs;
}

function record(stage: StageCode, slot: SlotIndex, attempts = 1, version = 2): AttemptRecord {
  return { version, slot, securityCounter: 1, seqBefore: 5, stage, attempts, offer: ID2 };
}

const STATES: ImageState[] = ["new", "pending-verify", "valid", "invalid", "aborted", "undefined"];
const RESETS: ResetReason[] = ["power-on", "software", "watchdog", "panic", "brownout", "deep-sleep", "external", "unknown"];
const STAGES: StageCode[] = [Stage.Staged, Stage.Pending, Stage.Trial, Stage.Confirming, Stage.Network, Stage.Unhealthy, Stage.Interrupted];

/** Every boot situation: fresh, on trial, back on the old image after every kind of attempt. */
function allBootSituations(): BootFacts[] {
  const out: BootFacts[] = [];
  for (const runningState of ["valid", "pending-verify", "undefined"] as ImageState[]) {
    for (const rollback of [true, false]) out.push({ runningSlot: 0, runningState, rollback, recordSeq: 5, reset: "power-on" });
  }
  for (const stage of STAGES) {
    out.push({ runningSlot: 1, runningState: "pending-verify", rollback: true, attempt: record(stage, 1), attemptSlotState: "pending-verify", recordSeq: 6, reset: "software" });
    out.push({ runningSlot: 1, runningState: "valid", rollback: true, attempt: record(stage, 1), attemptSlotState: "valid", recordSeq: 6, reset: "power-on" });
    for (const attemptSlotState of STATES) {
      for (const recordSeq of [5, 6]) {
        for (const reset of RESETS) {
          for (const attempts of [1, 3]) out.push({ runningSlot: 0, runningState: "valid", rollback: true, attempt: record(stage, 1, attempts), attemptSlotState, recordSeq, reset });
          out.push({ runningSlot: 0, runningState: "valid", rollback: true, attempt: record(stage, 1), attemptSlotState, recordSeq, reset, attemptRejected: true });
        }
      }
    }
  }
  return out;
}

/** The roots of the deep exploration: one of each kind of boot. */
function rootSituations(): BootFacts[] {
  const old = (stage: StageCode, reset: ResetReason, attemptSlotState: ImageState = "aborted"): BootFacts => ({ runningSlot: 0, runningState: "valid", rollback: true, attempt: record(stage, 1), attemptSlotState, recordSeq: 6, reset });
  return [
    { runningSlot: 0, runningState: "valid", rollback: true, recordSeq: 5, reset: "power-on" },
    { runningSlot: 0, runningState: "undefined", rollback: false, recordSeq: 5, reset: "power-on" },
    { runningSlot: 1, runningState: "pending-verify", rollback: true, attempt: record(Stage.Staged, 1), attemptSlotState: "pending-verify", recordSeq: 6, reset: "software" },
    { runningSlot: 1, runningState: "pending-verify", rollback: true, attempt: record(Stage.Unhealthy, 1), attemptSlotState: "pending-verify", recordSeq: 6, reset: "power-on" },
    old(Stage.Interrupted, "power-on"),
    old(Stage.Trial, "power-on"),
    old(Stage.Trial, "panic"),
  ];
}

const ids = new WeakMap<Uint8Array, number>();
let nextId = 1;
function key(m: unknown): string {
  return JSON.stringify(m, (_k, v) => {
    if (!(v instanceof Uint8Array)) return v;
    if (v.length <= 8) return `b${Array.from(v).join(".")}`;
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = nextId++)); // by identity: the fixtures reuse their arrays
    return `#${v.length}:${v[0]}:${v[v.length - 1]}:${id}`;
  });
}

/** Invariants of one transition. */
function check(before: OtaModel, input: OtaInput, r: StepResult, restartsSoFar: number): string[] {
  const bad: string[] = [];
  const m = r.model;
  if (before.mode === "restarting" && (r.effects.length > 0 || r.op || m.mode !== "restarting")) bad.push("acted after a restart was requested");
  const restarts = r.effects.filter((e) => e.type === "restart").length + (r.op?.type === "rollback" ? 0 : 0);
  if (restarts + restartsSoFar > 1) bad.push("restarted twice");
  if (restarts > 0 && m.mode !== "restarting") bad.push("restart without the restarting mode");
  const op = r.op;
  if (op && (op.type === "scan" || op.type === "store-block" || op.type === "verify-image" || op.type === "set-pending") && op.slot === m.runningSlot) bad.push(`${op.type} on the running slot`);
  if (op?.type === "set-pending" && m.attempt?.version === m.running) bad.push("installs the version it runs");
  if (!op) {
    // Never stuck: every mode that waits for something has a timer for it.
    if (m.mode === "downloading" && m.timer !== "stall") bad.push(`downloading without a stall timer (timer ${m.timer})`);
    if (m.mode === "deferred" && m.timer !== "defer") bad.push("deferred without a timer");
    if (m.mode === "trial" && m.timer === undefined) bad.push("trial without a timer");
  }
  for (const e of r.effects) {
    if (e.type !== "status") continue;
    const s = e.status;
    const aboutOffer = [OtaResult.UnknownKey, OtaResult.UnsupportedPackage, OtaResult.Cancelled, OtaResult.Deferred, OtaResult.TrialInterrupted, OtaResult.RolledBack, OtaResult.PreviouslyRejected].includes(s.result as never);
    const known = (before.trial ?? m.trial)?.record.offer.length !== 0; // a trial with no attempt record (NVS wiped) has no offer id
    if (aboutOffer && known && s.offer === undefined) bad.push(`status ${s.result} without an offer id`);
    if ((s.result === OtaResult.TrialInterrupted || s.result === OtaResult.RolledBack) && s.cause === undefined) bad.push(`status ${s.result} without a cause`);
    if (s.running !== m.running && s.running !== before.running) bad.push("status with a stale running version");
  }
  if (m === before) bad.push("model object reused");
  return bad;
}

function explore(roots: BootFacts[], limit: number, outside = true) {
  const seen = new Set<string>();
  const problems: string[] = [];
  let transitions = 0;
  type Node = { m: OtaModel; op?: OtaOp; restarts: number; path: string[] };
  const queue: Node[] = [];
  for (const facts of roots) queue.push({ m: initialOta(POLICY.codeVersion), restarts: 0, path: [`boot ${JSON.stringify({ ...facts, attempt: facts.attempt && { ...facts.attempt, offer: undefined } })}`], op: undefined, ...{ boot: facts } } as Node & { boot: BootFacts });
  while (queue.length > 0 && seen.size < limit) {
    const n = queue.shift()! as Node & { boot?: BootFacts };
    const inputs: OtaInput[] = n.boot ? [{ type: "boot", facts: n.boot }] : n.op ? outcomes(n.op, n.m) : outside ? external(n.m) : [];
    for (const input of inputs) {
      const frozen = key(n.m);
      const r = step(n.m, input, POLICY);
      transitions++;
      if (key(n.m) !== frozen) problems.push(`${n.path.join(" > ")} > ${input.type}: the input model was changed`);
      for (const p of check(n.m, input, r, n.restarts)) if (problems.length < 20) problems.push(`${n.path.slice(-6).join(" > ")} > ${describeInput(input)}: ${p}`);
      const restarts = n.restarts + r.effects.filter((e) => e.type === "restart").length;
      const k = `${key(r.model)}|${key(r.op ?? "-")}|${restarts}`;
      if (seen.has(k)) continue;
      seen.add(k);
      queue.push({ m: r.model, op: r.op, restarts, path: [...n.path.slice(-8), describeInput(input)] });
    }
  }
  return { problems, states: seen.size, transitions };
}

function describeInput(i: OtaInput): string {
  if (i.type === "failed") return `failed(${i.op.type}, ${i.port}${"rollbackFailed" in i && i.rollbackFailed ? ", rollback-failed" : ""})`;
  if (i.type === "done") return `done(${i.op.type})`;
  if (i.type === "timer") return `timer(${i.kind})`;
  if (i.type === "block") return `block(${i.index}${i.blocked ? ", blocked" : ""})`;
  if (i.type === "offer") return `offer(${i.bytes.length})`;
  return i.type;
}

describe("judging a trial from what the platform can tell", () => {
  const endState = (s: ImageState) => s === "aborted" || s === "invalid";
  const trialRan = (f: { stage: StageCode; slotState: ImageState; seqRose: boolean }) =>
    f.stage === Stage.Trial || f.stage === Stage.Confirming || f.stage === Stage.Network || f.stage === Stage.Unhealthy || f.stage === Stage.Pending || (endState(f.slotState) && f.seqRose);
  it("never reads a trial that ran as 'not applied'; retries only what power or network loss explains, after the agent ran", () => {
    for (const stage of [Stage.Staged, Stage.Pending, Stage.Trial, Stage.Confirming, Stage.Network, Stage.Unhealthy] as StageCode[]) {
      for (const slotState of STATES) {
        for (const seqRose of [false, true]) {
          for (const reset of RESETS) {
            const f = { stage, slotState, seqRose, reset };
            const v = judgeTrial(f);
            const at = JSON.stringify(f);
            if (trialRan(f)) expect(v.kind, at).toBe("ended");
            if (v.kind !== "ended") continue;
            if (stage === Stage.Network) expect(v.cause, at).toBe(TrialCause.Network);
            else if (stage === Stage.Unhealthy) expect(v.cause, at).toBe(TrialCause.Unhealthy);
            // A crash the reset reason names is always believed.
            if (reset === "panic" && stage !== Stage.Network && stage !== Stage.Unhealthy) expect(v.cause, at).toBe(TrialCause.Crash);
            // Power loss is believed only when the trial's agent ran and the bootloader's record of the end
            // is intact, or when the trial had passed its health check (confirming: only markValid ran after it).
            if (v.cause === TrialCause.PowerLoss) expect(((stage === Stage.Trial && endState(slotState)) || stage === Stage.Confirming) && causeOfReset(reset) === TrialCause.PowerLoss, at).toBe(true);
            if (isRetryableCause(v.cause)) expect(stage === Stage.Network || stage === Stage.Trial || stage === Stage.Confirming, at).toBe(true);
            // A trial that never noted its agent ran is never retried on a power-on: the cut may hide a crash.
            if (stage === Stage.Pending) expect(isRetryableCause(v.cause), at).toBe(false);
          }
        }
      }
    }
  });

  it("the ESP-IDF torn abort (a crash, then a cut while ABORTED is rewritten in place: no state, same sequence) is neither 'never landed' nor retried", () => {
    // Before: "setPending never landed", the record cleared, the crashed version installed again.
    expect(judgeTrial({ stage: Stage.Pending, slotState: "undefined", seqRose: false, reset: "power-on" })).toEqual({ kind: "ended", cause: TrialCause.Unknown });
    expect(judgeTrial({ stage: Stage.Trial, slotState: "undefined", seqRose: false, reset: "power-on" })).toEqual({ kind: "ended", cause: TrialCause.Unknown });
    // setPending itself cut short: nothing happened.
    expect(judgeTrial({ stage: Stage.Staged, slotState: "undefined", seqRose: false, reset: "power-on" })).toEqual({ kind: "not-applied" });
    // An aborted state before setPending returned, the sequence unchanged: left over from an earlier attempt.
    expect(judgeTrial({ stage: Stage.Staged, slotState: "aborted", seqRose: false, reset: "power-on" })).toEqual({ kind: "not-applied" });
    // After setPending returned, aborted is this trial's, even with the same sequence (ESP-IDF reuses
    // ota_seq 3 for ota_0 after an aborted attempt there): a build that died before its agent ran.
    expect(judgeTrial({ stage: Stage.Pending, slotState: "aborted", seqRose: false, reset: "panic" })).toEqual({ kind: "ended", cause: TrialCause.Crash });
    expect(judgeTrial({ stage: Stage.Pending, slotState: "aborted", seqRose: false, reset: "power-on" })).toEqual({ kind: "ended", cause: TrialCause.Unknown });
    // The agent ran, the bootloader recorded the abort, the reset was a power-on: power loss, retryable.
    expect(judgeTrial({ stage: Stage.Trial, slotState: "aborted", seqRose: true, reset: "brownout" })).toEqual({ kind: "ended", cause: TrialCause.PowerLoss });
  });

  it("a cut inside markValid's in-place rewrite (ESP-IDF erases the active entry: the old slot boots) is power loss, not unknown", () => {
    // Before the confirming note: stage trial, no state for the slot, power-on: unknown, the good release rejected.
    expect(judgeTrial({ stage: Stage.Confirming, slotState: "undefined", seqRose: false, reset: "power-on" })).toEqual({ kind: "ended", cause: TrialCause.PowerLoss });
    expect(judgeTrial({ stage: Stage.Confirming, slotState: "undefined", seqRose: false, reset: "panic" })).toEqual({ kind: "ended", cause: TrialCause.Crash });
  });

  it("after setPending returned, an ended state is this attempt's whatever the sequence did (ESP-IDF reuses ota_seq; an erased leftover lowers it)", () => {
    // update after a rollback: the leftover INVALID entry (seq 2) counted in seqBefore; the cut of the
    // NEW -> PENDING_VERIFY (or PENDING_VERIFY -> ABORTED) rewrite erased it: the sequence went down.
    expect(judgeTrial({ stage: Stage.Pending, slotState: "undefined", seqRose: false, reset: "power-on" })).toEqual({ kind: "ended", cause: TrialCause.Unknown });
    // staged, but a new entry appeared and ended: setPending landed (the pending note was cut).
    expect(judgeTrial({ stage: Stage.Staged, slotState: "aborted", seqRose: true, reset: "power-on" })).toEqual({ kind: "ended", cause: TrialCause.Unknown });
    expect(judgeTrial({ stage: Stage.Staged, slotState: "aborted", seqRose: true, reset: "panic" })).toEqual({ kind: "ended", cause: TrialCause.Crash });
  });
});

describe("OTA step function, explored over its inputs", () => {
  it("holds its invariants on every reachable transition", () => {
    const { problems, states, transitions } = explore(rootSituations(), 12_000);
    expect(problems).toEqual([]);
    expect(states).toBeGreaterThanOrEqual(12_000);
    expect(transitions).toBeGreaterThan(50_000);
  });

  it("settles every boot situation (every stage, slot state, sequence, reset reason) through every op outcome", () => {
    const situations = allBootSituations();
    const { problems, states, transitions } = explore(situations, 100_000, false);
    expect(problems).toEqual([]);
    expect(transitions).toBeGreaterThan(situations.length);
    expect(states).toBeGreaterThan(40);
  });

  it("a port failure in any download op ends the download with 8 and no timer left running", () => {
    for (const op of ["scan", "store-block", "verify-image"] as const) {
      for (const port of PORTS) {
        let m = step(initialOta(1), { type: "boot", facts: { runningSlot: 0, runningState: "valid", rollback: true, recordSeq: 1, reset: "power-on" } }, POLICY).model;
        let r = step(m, { type: "offer", bytes: V2.envelope, offer: ID2 }, POLICY);
        r = step(r.model, { type: "offer-checked", bytes: V2.envelope, offer: ID2, verdict: okVerdict(V2), slot: 1, eraseBlock: BLOCK }, POLICY);
        if (op !== "scan") r = step(r.model, { type: "scanned", have: new Uint8Array([1, 1, op === "verify-image" ? 1 : 0]) }, POLICY);
        if (op === "store-block") r = step(r.model, { type: "block", index: 2, bytes: new Uint8Array(V2.image.length - 2 * BLOCK) }, POLICY);
        expect(r.op?.type).toBe(op);
        m = r.model;
        const out = step(m, { type: "failed", op: r.op!, port, detail: "read fault" }, POLICY);
        expect(out.model.mode).toBe("idle");
        expect(out.model.timer).toBeUndefined();
        expect(out.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.UpdateFailed, version: 2, offer: ID2 } });
      }
    }
  });

  it("a trial notes 'confirming' before markValid; a valid state this image never asked for is trialled, not confirmed", () => {
    const facts = (stage: StageCode, runningState: ImageState): BootFacts => ({ runningSlot: 1, runningState, rollback: true, attempt: record(stage, 1), attemptSlotState: runningState, recordSeq: 6, reset: "power-on" });
    // ESP-IDF booted the slot with a torn NEW that reads VALID (CRC covers ota_seq only): still a trial.
    for (const stage of [Stage.Staged, Stage.Pending, Stage.Trial]) {
      const r = step(initialOta(1), { type: "boot", facts: facts(stage, "valid") }, POLICY);
      expect(r.model.mode, `stage ${stage}`).toBe("trial");
    }
    // markValid was called (the note says so) and the bookkeeping was cut: confirmed without a new trial.
    expect(step(initialOta(1), { type: "boot", facts: facts(Stage.Confirming, "valid") }, POLICY).op).toMatchObject({ type: "confirm-records" });
    // Healthy: the note first, markValid once it landed.
    let m = step(initialOta(1), { type: "boot", facts: facts(Stage.Pending, "pending-verify") }, POLICY).model;
    m = step(m, { type: "done", op: { type: "save-attempt", record: { ...record(Stage.Trial, 1) } } }, POLICY).model;
    m = step(m, { type: "connected" }, POLICY).model;
    const healthy = step(m, { type: "telemetry-acked" }, POLICY);
    expect(healthy.op).toMatchObject({ type: "save-attempt", record: { stage: Stage.Confirming } });
    expect(step(healthy.model, { type: "done", op: healthy.op! }, POLICY).op).toEqual({ type: "mark-valid" });
    // A failed note does not stop the confirmation.
    expect(step(healthy.model, { type: "failed", op: healthy.op!, port: "kv", detail: "nvs full" }, POLICY).op).toEqual({ type: "mark-valid" });
  });

  it("a trial that timed out offline is retryable (109, network); connected, it is rejected (105, unhealthy)", () => {
    const facts: BootFacts = { runningSlot: 1, runningState: "pending-verify", rollback: true, attempt: record(Stage.Staged, 1), attemptSlotState: "pending-verify", recordSeq: 6, reset: "software" };
    const trial = step(initialOta(1), { type: "boot", facts }, POLICY).model;
    const offline = step(trial, { type: "timer", kind: "health" }, POLICY);
    // Recorded first, in one write; reported and acted on once it landed.
    expect(offline.effects.filter((e) => e.type === "status")).toEqual([]);
    expect(offline.op).toMatchObject({ type: "save-attempt", record: { stage: Stage.Network } });
    const saved = step(offline.model, { type: "done", op: offline.op! }, POLICY);
    expect(saved.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.TrialInterrupted, cause: TrialCause.Network, version: 2, offer: ID2 } });
    expect(saved.op).toEqual({ type: "rollback" });
    const online = step(step(trial, { type: "connected" }, POLICY).model, { type: "timer", kind: "health" }, POLICY);
    expect(online.op).toMatchObject({ type: "save-attempt", record: { stage: Stage.Unhealthy } });
    const rejected = step(online.model, { type: "done", op: online.op! }, POLICY);
    expect(rejected.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.RolledBack, cause: TrialCause.Unhealthy } });
    expect(rejected.op).toMatchObject({ type: "reject", version: 2 });
    expect(step(rejected.model, { type: "done", op: rejected.op! }, POLICY).op).toEqual({ type: "rollback" });
  });

  it("back on the old image: power loss retries with backoff until the bound, a crash rejects at once", () => {
    const old = (attempts: number, reset: ResetReason) =>
      step(initialOta(1), { type: "boot", facts: { runningSlot: 0, runningState: "valid", rollback: true, attempt: record(Stage.Trial, 1, attempts), attemptSlotState: "aborted", recordSeq: 6, reset } }, POLICY);
    const first = old(1, "power-on");
    expect(first.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.TrialInterrupted, cause: TrialCause.PowerLoss, attempt: 1 } });
    expect(first.op).toMatchObject({ type: "save-attempt", record: { stage: Stage.Interrupted, attempts: 1 } });
    expect(first.model.hold).toEqual({ version: 2, ms: 700 });
    expect(old(2, "brownout").model.hold).toEqual({ version: 2, ms: 1400 });
    const last = old(3, "power-on");
    expect(last.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.RolledBack, cause: TrialCause.PowerLoss, attempt: 3 } });
    expect(last.op).toMatchObject({ type: "reject", version: 2 });
    for (const [reset, cause] of [["panic", TrialCause.Crash], ["watchdog", TrialCause.Watchdog]] as const) {
      const r = old(1, reset);
      expect(r.effects.find((e) => e.type === "status")).toMatchObject({ status: { result: OtaResult.RolledBack, cause } });
      expect(r.op).toMatchObject({ type: "reject", version: 2 });
    }
    // The held offer waits out the backoff before it is installed again.
    let r = step(first.model, { type: "done", op: first.op! }, POLICY);
    r = step(r.model, { type: "offer-checked", bytes: V2.envelope, offer: ID2, verdict: okVerdict(V2), slot: 1, eraseBlock: BLOCK }, POLICY);
    expect(r.model.mode).toBe("deferred");
    expect(r.effects).toContainEqual({ type: "arm", kind: "defer", ms: 700 });
  });
});

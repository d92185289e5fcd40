// The rollout step function on its own: preconditions and deferral, the rate (fixed and
// exponential), timeouts, device statuses → states, the two halt rules, waves and soak.
import { describe, expect, it } from "vitest";
import {
  step, tally, waveEnds, type DeviceFacts, type DeviceState, type RolloutInput, type RolloutState,
} from "../../service/rollouts/machine";
import { RolloutDevices } from "../../service/rollouts/device-index";
import { DEFAULTS, currentRate, parseDurationMs, parseRate, parseWaves, type RolloutSpec } from "../../service/rollouts/spec";
import { matches, parseTarget } from "../../service/rollouts/target";
import { binomialUpper, meanWorse, poissonRateWorse } from "../../service/rollouts/stats";

const V = 1_003_000;
function spec(over: Partial<RolloutSpec> = {}): RolloutSpec {
  return {
    bundle: "b", version: V, hardwareId: "hw", target: "firmware < 1.3.0", canary: 2, waves: [50, 100], ratePerMinute: 100,
    maxFailurePct: 10, minExecuted: 4, timeoutMs: 600_000, soakMs: 3_600_000, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 1,
    maxInterrupted: 2, health: { ...DEFAULTS.health }, ...over,
  };
}

function fleet(n: number, s = spec()): { r: RolloutState; devices: RolloutDevices } {
  const ends = waveEnds(n, s.canary, s.waves);
  const devices = new RolloutDevices();
  for (let i = 0; i < n; i++) {
    const id = `d${i}`;
    devices.set(id, {
      deviceId: id, position: i, wave: ends.findIndex((e) => i < e), state: "queued", result: null, cause: null, fromVersion: 1_002_000, offeredAt: null,
      offers: 0, progressAt: null, updatedAt: 0, retries: 0, interrupted: 0, detail: null, rollbackAt: null, rollbackResult: null,
    });
  }
  const r: RolloutState = { id: "r0001", spec: s, status: "running", wave: 0, waveEnds: ends, waveStartedAt: 0, waveSucceededAt: null, haltRule: null, haltDetail: null, updatedAt: 0, finishedAt: null };
  return { r, devices };
}

const good: DeviceFacts = { online: true, batteryPct: 80, batteryStatus: 0, busy: false, firmwareNum: 1_002_000 };

/** Runs one input and applies the result. */
function run(state: { r: RolloutState; devices: RolloutDevices }, input: RolloutInput) {
  const out = step(state.r, state.devices, input);
  state.r = out.rollout;
  for (const d of out.changed) state.devices.set(d.deviceId, d);
  return out;
}
const tick = (now: number, facts: (id: string) => DeviceFacts | undefined = () => good, health?: RolloutInput extends infer T ? any : never): RolloutInput => ({ type: "tick", now, facts, health });
const status = (now: number, deviceId: string, result: number, extra: object = {}): RolloutInput => ({
  type: "status", now, deviceId, status: { state: 0, result, version: V, running: result === 1 ? V : 1_002_000, ...extra },
});

describe("rollout step function", () => {
  it("offers the canary first, defers devices that are offline or low on battery, and offers them once they qualify", () => {
    const st = fleet(10);
    const facts = new Map<string, DeviceFacts>([["d0", { ...good, online: false }], ["d1", { ...good, batteryPct: 12 }]]);
    const out = run(st, tick(1000, (id) => facts.get(id) ?? good));
    expect(out.effects.filter((e) => e.type === "offer")).toEqual([]);
    expect(st.devices.get("d0")).toMatchObject({ state: "deferred", detail: "offline" });
    expect(st.devices.get("d1")).toMatchObject({ state: "deferred", detail: "battery 12% < 30%" });
    // A week later both qualify (charging counts whatever the %).
    facts.set("d0", good);
    facts.set("d1", { ...good, batteryPct: 12, batteryStatus: 1 });
    const later = run(st, tick(7 * 86_400_000, (id) => facts.get(id) ?? good));
    expect(later.effects.filter((e) => e.type === "offer").map((e) => (e as { deviceId: string }).deviceId)).toEqual(["d0", "d1"]);
    expect(st.devices.get("d2")!.state).toBe("queued"); // wave 1 not started
  });

  it("keeps to the rate over a sliding minute, spread over the minute, and raises it exponentially", () => {
    const st = fleet(100, spec({ canary: 100, waves: [100], ratePerMinute: 10 }));
    const offers = (now: number) => run(st, tick(now)).effects.filter((e) => e.type === "offer").length;
    // 10/min: at most 2 in any 10 s (not 10 at once), 10 in the minute, then the next minute's.
    const perTick = [0, 5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 55_000, 60_000, 70_000].map(offers);
    expect(perTick).toEqual([2, 0, 2, 2, 2, 2, 0, 0, 2, 2]);
    expect(perTick.slice(0, 8).reduce((a, b) => a + b, 0)).toBe(10);
    // A whole canary at 20/min goes out 4 every 10 s.
    const c = fleet(20, spec({ canary: 20, waves: [100], ratePerMinute: 20 }));
    expect([0, 10_000, 20_000, 30_000, 40_000].map((now) => run(c, tick(now)).effects.filter((e) => e.type === "offer").length)).toEqual([4, 4, 4, 4, 4]);
    const s = spec({ ratePerMinute: 1000, exponential: { baseRatePerMinute: 10, incrementFactor: 2, notifiedThreshold: 20 } });
    expect([0, 19, 20, 40, 60, 200].map((n) => currentRate(s, n, 0))).toEqual([10, 10, 20, 40, 80, 1000]);
    const s2 = spec({ ratePerMinute: 50, exponential: { baseRatePerMinute: 10, incrementFactor: 1.5, succeededThreshold: 5 } });
    expect(currentRate(s2, 100, 12)).toBe(22.5);
  });

  it("maps LwM2M statuses to device states; retries stalls; power-cut trials are counted apart", () => {
    const st = fleet(6, spec({ canary: 6, waves: [100] }));
    run(st, tick(0));
    run(st, { type: "status", now: 10, deviceId: "d0", status: { state: 1, result: 0, version: V, running: 1_002_000 } });
    expect(st.devices.get("d0")!.state).toBe("downloading");
    run(st, status(20, "d0", 1));
    run(st, status(20, "d1", 105, { cause: 3 }));
    run(st, status(20, "d2", 100));
    run(st, status(20, "d3", 4));
    run(st, status(20, "d4", 109, { cause: 1 }));
    run(st, status(30, "d5", 11, { detail: "battery low" }));
    expect([...st.devices.values()].map((d) => d.state)).toEqual(["succeeded", "rolled-back", "rejected", "queued", "interrupted", "deferred"]);
    expect(st.devices.get("d3")).toMatchObject({ retries: 1 });
    expect(st.devices.get("d2")).toMatchObject({ result: 100 });
    // The stalled one is offered again; a second stall fails it (maxRetries 1).
    const again = run(st, tick(61_000));
    expect(again.effects).toContainEqual({ type: "offer", deviceId: "d3" });
    run(st, status(62_000, "d3", 4));
    expect(st.devices.get("d3")!.state).toBe("failed");
    // Two more interrupted trials pass maxInterrupted (2): failed, but counted apart.
    run(st, status(63_000, "d4", 109, { cause: 1 }));
    run(st, status(64_000, "d4", 109, { cause: 1 }));
    expect(st.devices.get("d4")).toMatchObject({ state: "failed", interrupted: 3 });
    const t = tally(st.devices.values());
    expect(t).toMatchObject({ failures: 2, interruptedOutcomes: 1, executed: 4 });
  });

  it("times out an offer without progress and withdraws it", () => {
    const st = fleet(3, spec({ canary: 3, waves: [100], timeoutMs: 60_000, minExecuted: 100 }));
    run(st, tick(0));
    run(st, { type: "status", now: 30_000, deviceId: "d0", status: { state: 1, result: 0, version: V, running: 1_002_000 } });
    const out = run(st, tick(60_000));
    expect(out.effects.filter((e) => e.type === "withdraw").map((e) => (e as { deviceId: string }).deviceId)).toEqual(["d1", "d2"]);
    expect(st.devices.get("d0")!.state).toBe("downloading");
    expect(st.devices.get("d1")!.state).toBe("timed-out");
  });

  it("halts on failures over the threshold of enough executed devices, withdrawing pending offers, offering the rollback", () => {
    const st = fleet(10, spec({ canary: 10, waves: [100], minExecuted: 4, maxFailurePct: 25, rollbackBundle: "old", rollbackVersion: 1_003_001 }));
    run(st, tick(0));
    run(st, status(1, "d0", 1));
    run(st, status(1, "d1", 1));
    run(st, status(1, "d2", 105, { cause: 4 }));
    expect(run(st, tick(2)).rollout.status).toBe("running"); // 3 executed < 4
    run(st, status(3, "d3", 105, { cause: 3 }));
    const out = run(st, tick(4));
    expect(st.r.status).toBe("halted");
    expect(st.r.haltRule).toBe("failure-rate");
    expect(st.r.haltDetail).toMatchObject({ failures: 2, executed: 4, failurePct: 50 });
    expect(out.effects.filter((e) => e.type === "withdraw")).toHaveLength(6);
    expect(out.effects.filter((e) => e.type === "offer-rollback").map((e) => (e as { deviceId: string }).deviceId)).toEqual(["d0", "d1"]);
    expect(st.devices.get("d5")!.state).toBe("queued");
    // Nothing more is offered while halted.
    expect(run(st, tick(100_000)).effects).toEqual([]);
  });

  it("halts when the health comparison says the new version is worse", () => {
    const st = fleet(4, spec({ canary: 4, waves: [100] }));
    run(st, tick(0));
    const out = run(st, { type: "tick", now: 10, facts: () => good, health: { worse: "battery", detail: { pValues: { battery: 1e-6 } } } });
    expect(out.rollout).toMatchObject({ status: "halted", haltRule: "worse-battery", haltDetail: { pValues: { battery: 1e-6 } } });
  });

  it("starts the next wave only after the success threshold and the soak", () => {
    const st = fleet(10, spec({ canary: 2, waves: [50, 100], soakMs: 1000 }));
    run(st, tick(0));
    run(st, status(10, "d0", 1));
    run(st, tick(20));
    expect(st.r.waveSucceededAt).toBeNull(); // 1 of 2 = 50 % < 80 %
    run(st, status(30, "d1", 1));
    run(st, tick(40));
    expect(st.r).toMatchObject({ wave: 0, waveSucceededAt: 40 });
    run(st, tick(1039));
    expect(st.r.wave).toBe(0);
    const out = run(st, tick(1040));
    expect(st.r.wave).toBe(1);
    expect(out.effects.filter((e) => e.type === "offer")).toHaveLength(3); // up to 50 % of 10
  });

  it("halts when a wave's devices all have their outcome and too few succeeded", () => {
    const st = fleet(10, spec({ canary: 3, waves: [100], maxFailurePct: 50, minExecuted: 3 }));
    run(st, tick(0));
    run(st, status(1, "d0", 1));
    run(st, status(1, "d1", 1));
    run(st, status(1, "d2", 100));
    run(st, tick(2));
    expect(st.r).toMatchObject({ status: "halted", haltRule: "wave-success-threshold", haltDetail: { wave: 0, succeeded: 2, successThresholdPct: 80 } });
  });

  it("pauses, resumes and cancels", () => {
    const st = fleet(4, spec({ canary: 4, waves: [100] }));
    run(st, tick(0));
    run(st, { type: "command", now: 1, command: "pause" });
    expect(run(st, tick(100_000)).effects).toEqual([]);
    run(st, { type: "command", now: 2, command: "resume" });
    expect(st.r.status).toBe("running");
    const out = run(st, { type: "command", now: 3, command: "cancel" });
    expect(st.r.status).toBe("cancelled");
    expect(out.effects.filter((e) => e.type === "withdraw")).toHaveLength(4);
    expect([...st.devices.values()].every((d) => d.state === "removed")).toBe(true);
  });
});

describe("rollout spec and target parsing", () => {
  it("parses rates, durations, waves and targets", () => {
    expect(parseRate("100/min")).toBe(100);
    expect(parseRate("2/s")).toBe(120);
    expect(parseDurationMs("30m", "timeout")).toBe(1_800_000);
    expect(parseWaves("5%,25%,100%")).toEqual([5, 25, 100]);
    expect(() => parseWaves("25%,5%,100%")).toThrow(/larger than the previous/);
    expect(() => parseWaves("5%,25%")).toThrow(/last wave must be 100%/);
    expect(() => parseRate("fast")).toThrow(/N\/min/);
    const t = parseTarget("firmware < 1.3.0 and group = field or hardware = B");
    const d = (fw: number, group: string | null, hw: string | null) => ({ id: "x", firmware_num: fw, group_name: group, hardware: hw });
    expect(matches(t, d(1_002_000, "field", null))).toBe(true);
    expect(matches(t, d(1_003_000, "field", null))).toBe(false);
    expect(matches(t, d(1_003_000, "lab", "B"))).toBe(true);
    expect(matches(t, d(1_002_000, "lab", "A"))).toBe(false);
    expect(() => parseTarget("firmware << 1")).toThrow(/needs a value/);
    expect(() => parseTarget("firmware < x.y")).toThrow(/not a version/);
    expect(() => parseTarget("colour = red")).toThrow(/not a field/);
    expect(() => parseTarget("group < a")).toThrow(/only with = or !=/);
    expect(() => parseTarget("group = a and")).toThrow(/nothing after/);
  });
});

describe("health statistics", () => {
  it("binomial tail matches hand-computed values", () => {
    expect(binomialUpper(2, 2, 0.5)).toBeCloseTo(0.25, 12);
    expect(binomialUpper(1, 3, 0.5)).toBeCloseTo(0.875, 12);
    expect(binomialUpper(0, 10, 0.3)).toBe(1);
  });

  it("says worse for a clearly higher rate, not for equal rates or within the margin", () => {
    // 60 crashes in 100 device-days vs 50 in 500: rate 0.6 vs 0.1.
    expect(poissonRateWorse(60, 100, 50, 500, 0.2)).toBeLessThan(1e-6);
    expect(poissonRateWorse(10, 100, 50, 500, 0.2)).toBeGreaterThan(0.3);
    expect(poissonRateWorse(11, 100, 50, 500, 0.2)).toBeGreaterThan(0.05);
    const slow = Array.from({ length: 30 }, (_, i) => 0.5 + (i % 5) * 0.01);
    const fast = slow.map((x) => x * 1.4);
    expect(meanWorse(fast, slow, 0.2).p).toBeLessThan(1e-6);
    expect(meanWorse(slow.map((x) => x * 1.1), slow, 0.2).p).toBeGreaterThan(0.5);
  });
});

describe("ambiguous rejections (105 cause 6): counted apart, retried once with the marker", () => {
  const calm = () => spec({ canary: 4, waves: [100], maxFailurePct: 100, minExecuted: 100, successThresholdPct: 10, soakMs: 0 });
  function offeredFleet(n = 4) {
    const st = fleet(n, calm());
    run(st, tick(0));
    return st;
  }
  const offers = (out: ReturnType<typeof run>, type: string) => out.effects.filter((e) => e.type === type).map((e) => (e as { deviceId: string }).deviceId);

  it("a cause-6 rejection is not a failure; after two successes in its stratum it is re-offered once with the marker, and a second one is final", () => {
    const st = offeredFleet();
    run(st, status(1000, "d0", 1));
    run(st, status(1000, "d1", 1));
    run(st, status(1000, "d2", 105, { cause: 6 }));
    run(st, status(1000, "d3", 105, { cause: 3 }));
    expect(st.devices.get("d2")).toMatchObject({ state: "ambiguous", cause: 6 });
    expect(st.devices.get("d3")).toMatchObject({ state: "rolled-back", cause: 3 });
    const t = tally(st.devices.values());
    expect([t.failures, t.ambiguous]).toEqual([1, 1]);
    const out = run(st, tick(120_000));
    expect(offers(out, "offer-retry")).toEqual(["d2"]); // never d3 (a crash)
    expect(offers(out, "offer")).toEqual([]);
    expect(st.devices.get("d2")).toMatchObject({ state: "retrying", offers: 2 });
    run(st, status(121_000, "d2", 0, { state: 1 })); // downloading: still the retry
    expect(st.devices.get("d2")!.state).toBe("retrying");
    run(st, status(200_000, "d2", 105, { cause: 6 }));
    expect(st.devices.get("d2")).toMatchObject({ state: "rolled-back", cause: 6 });
    expect(offers(run(st, tick(400_000)), "offer-retry")).toEqual([]);
    expect(st.r.status).toBe("completed");
  });

  it("a retry that lands counts as a success", () => {
    const st = offeredFleet();
    for (const id of ["d0", "d1", "d3"]) run(st, status(1000, id, 1));
    run(st, status(1000, "d2", 105, { cause: 6 }));
    run(st, tick(120_000));
    run(st, status(130_000, "d2", 1));
    expect(st.devices.get("d2")!.state).toBe("succeeded");
    expect(tally(st.devices.values())).toMatchObject({ failures: 0, succeeded: 4, ambiguous: 0 });
  });

  it("successes in another stratum do not count; with none in its own the rejection becomes final when nothing else is open", () => {
    const st = offeredFleet();
    const facts = (id: string): DeviceFacts => ({ ...good, stratum: id === "d2" ? "hardware=b group=-" : "hardware=a group=-" });
    for (const id of ["d0", "d1", "d3"]) run(st, status(1000, id, 1));
    run(st, status(1000, "d2", 105, { cause: 6 }));
    const out = run(st, tick(120_000, facts));
    expect(offers(out, "offer-retry")).toEqual([]);
    expect(st.devices.get("d2")).toMatchObject({ state: "rolled-back", cause: 6 });
    expect(st.r.status).toBe("completed");
  });

  it("a halted or paused rollout re-offers nothing", () => {
    const st = offeredFleet();
    for (const id of ["d0", "d1"]) run(st, status(1000, id, 1));
    run(st, status(1000, "d2", 105, { cause: 6 }));
    run(st, { type: "command", now: 2000, command: "pause" });
    expect(offers(run(st, tick(120_000)), "offer-retry")).toEqual([]);
    expect(st.devices.get("d2")!.state).toBe("ambiguous");
  });
});

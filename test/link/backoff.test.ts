/** Backoff arithmetic and the connection manager's transitions. */
import { describe, expect, test } from "vitest";
import { DEFAULT_BACKOFF, backoffCeiling, retryDelay, uniformInclusive } from "../../device/core/link/backoff";
import { initialLink, step, type LinkInput, type LinkModel } from "../../device/core/link/machine";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";

describe("backoff", () => {
  test("ceiling doubles from base and stops at cap", () => {
    const c = [0, 1, 2, 3, 8, 9, 10, 50, 5000].map((n) => backoffCeiling(n, 1000, 300_000));
    expect(c).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000, 300_000, 300_000]);
  });

  test("full jitter is uniform on [0, ceiling]: range, mean and spread", () => {
    const seed = testSeed();
    withSeed(seed, "test/link/backoff.test.ts", () => {
      const r = new SeededRandom(seed);
      const N = 20_000;
      const buckets = new Array(10).fill(0);
      let sum = 0;
      for (let i = 0; i < N; i++) {
        const d = retryDelay(DEFAULT_BACKOFF, 20, r);
        expect(Number.isInteger(d) && d >= 0 && d <= 300_000).toBe(true);
        sum += d;
        buckets[Math.min(9, Math.floor(d / 30_000))]++;
      }
      expect(Math.abs(sum / N - 150_000)).toBeLessThan(3_000);
      for (const b of buckets) expect(Math.abs(b - N / 10)).toBeLessThan(N / 10 / 5);
    });
  });

  test("uniformInclusive covers both ends and large ranges exactly", () => {
    const r = new SeededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(uniformInclusive(r, 3));
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 1000; i++) {
      const v = uniformInclusive(r, 10_000_000_000);
      expect(Number.isInteger(v) && v >= 0 && v <= 10_000_000_000).toBe(true);
    }
    expect(uniformInclusive(r, 0)).toBe(0);
  });

  test("plain exponential (comparison mode) has no jitter", () => {
    expect(retryDelay({ ...DEFAULT_BACKOFF, jitter: "none" }, 3, new SeededRandom(1))).toBe(8000);
  });
});

describe("connection manager machine", () => {
  const policy = DEFAULT_BACKOFF;
  function run(inputs: LinkInput[], brokers = 1, seed = 7) {
    const r = new SeededRandom(seed);
    let m: LinkModel = initialLink(brokers);
    const log: string[] = [];
    for (const i of inputs) {
      const out = step(m, i, policy, r);
      m = out.model;
      log.push(`${i.type}->${m.phase}:${out.effects.map((e) => (e.type === "wait" ? `wait(${e.why},${e.ms})` : e.type === "connect" ? `connect(${e.broker})` : e.type)).join(",")}`);
    }
    return { m, log };
  }

  test("power-on waits a random delay within the bound before the first connect", () => {
    const { log } = run([{ type: "start" }, { type: "timer" }]);
    const ms = Number(/wait\(power-on,(\d+)\)/.exec(log[0])![1]);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(policy.powerOnMaxMs);
    expect(log[1]).toBe("timer->connecting:connect(0)");
  });

  test("the attempt counter grows on failures and resets only after a stable connection", () => {
    const fail: LinkInput[] = [{ type: "timer" }, { type: "closed" }];
    const { m } = run([{ type: "start" }, ...fail, ...fail, ...fail]);
    expect(m.attempt).toBe(3);
    const flap = run([{ type: "start" }, ...fail, ...fail, { type: "timer" }, { type: "connected" }, { type: "closed" }]);
    expect(flap.m.attempt).toBe(3); // dropped before stableMs: no reset
    const stable = run([{ type: "start" }, ...fail, ...fail, { type: "timer" }, { type: "connected" }, { type: "stable" }, { type: "closed" }]);
    expect(stable.m.attempt).toBe(1);
    expect(stable.m.connects).toBe(1);
  });

  test("auth refusal gets the long delay, other refusals the normal backoff", () => {
    const auth = run([{ type: "start" }, { type: "timer" }, { type: "refused", code: 5 }, { type: "closed" }]);
    const ms = Number(/wait\(refused,(\d+)\)/.exec(auth.log[3])![1]);
    expect(ms).toBeGreaterThanOrEqual(policy.refusedMinMs);
    expect(ms).toBeLessThanOrEqual(2 * policy.refusedMinMs);
    const busy = run([{ type: "start" }, { type: "timer" }, { type: "refused", code: 3 }, { type: "closed" }]);
    expect(busy.log[3]).toMatch(/wait\(backoff,\d+\)/);
  });

  test("fails over round-robin on failed attempts, stays on a broker that worked", () => {
    const { log } = run([{ type: "start" }, { type: "timer" }, { type: "closed" }, { type: "timer" }, { type: "closed" }, { type: "timer" }, { type: "connected" }, { type: "closed" }, { type: "timer" }], 3);
    expect(log.filter((l) => l.includes("connect(")).map((l) => /connect\((\d)\)/.exec(l)![1])).toEqual(["0", "1", "2", "2"]);
  });

  test("stop cancels and disconnects; inputs after stop are ignored", () => {
    const { m, log } = run([{ type: "start" }, { type: "timer" }, { type: "connected" }, { type: "stop" }, { type: "closed" }, { type: "timer" }]);
    expect(log[3]).toBe("stop->offline:cancel,disconnect");
    expect(m.phase).toBe("offline");
    expect(log.slice(4)).toEqual(["closed->offline:", "timer->offline:"]);
  });
});

import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";

const SEEDS = process.env.SEED ? [testSeed()] : [1, 2, 3, 20261126];

/**
 * A random timer program (common delays that get lanes, odd delays that stay in the heap,
 * timers set from inside timers, cancels of pending, fired and unknown ids, advances of any
 * size) run on the clock and on a plain sorted-list model: both must fire the same timers at
 * the same times in the same order.
 */
function differential(seed: number): { fired: number; lanesUsed: boolean } {
  const r = new SeededRandom(seed);
  const pick = (n: number) => r.nextU32() % n;
  const COMMON = [5, 0, 30_000, 60_000, 17, 5_000];
  const clock = new VirtualClock(1000);
  // The model: every timer ever set as (due, seq, name, live).
  const model: { due: number; seq: number; name: number; live: boolean; fired: boolean }[] = [];
  let now = 1000;
  let seq = 0;
  let name = 0;
  const ids = new Map<number, number>(); // name -> clock id
  const seenClock: string[] = [];
  const seenModel: string[] = [];
  const children = new Map<number, number>(); // name -> how many timers its callback sets
  const set = (delay: number, inModel: boolean) => {
    const n = name++;
    const kids = pick(4) === 0 ? 1 + pick(2) : 0;
    children.set(n, kids);
    const d = delay > 0 ? Math.floor(delay) : 0;
    ids.set(n, clock.setTimeout(() => {
      seenClock.push(`${n}@${clock.now()}`);
      for (let k = 0; k < kids; k++) set(nextDelay(), true);
    }, delay));
    if (inModel) model.push({ due: clock.now() + d, seq: seq++, name: n, live: true, fired: false });
  };
  const nextDelay = () => (pick(3) === 0 ? pick(90_000) : COMMON[pick(COMMON.length)]);
  // Timers set inside callbacks are recorded by set() as the clock runs them; the model's order
  // is a plain sort by (due, set order) of every timer not cleared before it fell due.
  for (let step = 0; step < 3_000; step++) {
    const op = pick(10);
    if (op < 6) set(nextDelay(), true);
    else if (op < 8 && name > 0) {
      const victim = pick(name + 5); // sometimes an id never handed out
      const id = ids.get(victim);
      if (id !== undefined) clock.clearTimeout(id);
      const m = model.find((e) => e.name === victim);
      if (m && !m.fired) m.live = false; // one that has fired: clearing it does nothing
    } else {
      const to = now + (pick(5) === 0 ? pick(200_000) : pick(50));
      clock.runUntil(to);
      now = to;
      // Every timer due by now has fired (those set inside callbacks too).
      for (const e of model) if (e.due <= now) e.fired = true;
    }
  }
  clock.runUntilIdle();
  // Model order: live timers sorted by (due, seq).
  for (const e of [...model].filter((e) => e.live).sort((a, b) => a.due - b.due || a.seq - b.seq)) seenModel.push(`${e.name}@${e.due}`);
  expect(seenClock).toEqual(seenModel);
  expect(clock.pending()).toBe(0);
  return { fired: seenClock.length, lanesUsed: (clock as unknown as { lanes: unknown[] }).lanes.length > 0 };
}

describe("VirtualClock", () => {
  it("fires timers in due order, FIFO for equal due times, and moves time to each", () => {
    const c = new VirtualClock(1000);
    const seen: string[] = [];
    c.setTimeout(() => seen.push(`b@${c.now()}`), 20);
    c.setTimeout(() => seen.push(`a@${c.now()}`), 10);
    c.setTimeout(() => seen.push(`c@${c.now()}`), 20);
    c.advance(15);
    expect(seen).toEqual(["a@1010"]);
    expect(c.now()).toBe(1015);
    c.advance(100);
    expect(seen).toEqual(["a@1010", "b@1020", "c@1020"]);
    expect(c.now()).toBe(1115);
  });

  it("runs timers scheduled from inside a timer when they fall due within the same advance", () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    const tick = () => {
      seen.push(c.now());
      if (seen.length < 5) c.setTimeout(tick, 100);
    };
    c.setTimeout(tick, 100);
    c.advance(350);
    expect(seen).toEqual([100, 200, 300]);
    c.runUntilIdle();
    expect(seen).toEqual([100, 200, 300, 400, 500]);
  });

  it("cleared timers never fire and are not counted as pending", () => {
    const c = new VirtualClock();
    let fired = 0;
    const id = c.setTimeout(() => fired++, 5);
    c.setTimeout(() => fired++, 6);
    expect(c.pending()).toBe(2);
    c.clearTimeout(id);
    c.clearTimeout(9999);
    expect(c.pending()).toBe(1);
    c.advance(10);
    expect(fired).toBe(1);
    expect(c.nextDueAt()).toBeUndefined();
  });

  it("negative and fractional delays are clamped to whole milliseconds", () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    c.setTimeout(() => seen.push(c.now()), -5);
    c.setTimeout(() => seen.push(c.now()), 2.9);
    c.runUntilIdle();
    expect(seen).toEqual([0, 2]);
  });

  it("fires in (due, set order) with lanes and heap mixed, as a sorted list would (fixed seeds)", () => {
    for (const seed of SEEDS) {
      withSeed(seed, "test/virtual/clock.test.ts", () => {
        const { fired, lanesUsed } = differential(seed);
        expect(fired).toBeGreaterThan(1_000);
        expect(lanesUsed).toBe(true);
      });
    }
  });

  it("a lane keeps its order as it grows past its first ring, with cancels in it", () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      ids.push(c.setTimeout(() => seen.push(i), 5));
      if (i >= 3 && (i - 3) % 7 === 0) c.clearTimeout(ids[i - 3]); // still pending: set ≤ 1 ms ago
      if (i % 3 === 0) c.advance(1); // due times spread, still one lane
    }
    c.runUntilIdle();
    const want = Array.from({ length: 2_000 }, (_, i) => i).filter((i) => i % 7 !== 0 || i >= 1_997);
    expect(seen).toEqual(want);
    expect((c as unknown as { lanes: { delay: number }[] }).lanes.map((l) => l.delay)).toEqual([5]);
  });

  it("step() runs exactly one timer", () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    c.setTimeout(() => seen.push(1), 1);
    c.setTimeout(() => seen.push(2), 2);
    expect(c.step()).toBe(true);
    expect(seen).toEqual([1]);
    expect(c.step()).toBe(true);
    expect(c.step()).toBe(false);
  });
});

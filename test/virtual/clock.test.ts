import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../host-sim/virtual/clock";

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

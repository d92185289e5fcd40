/** The Node clock adapter: delays beyond Node's 2^31-1 ms timer limit are chained, never fired early. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { NODE_MAX_TIMER_MS, NodeClock } from "../../device/platform/node/clock";

afterEach(() => vi.useRealTimers());

describe("NodeClock", () => {
  it("does not fire a delay above 2^31-1 ms at once (Node would fire it after 1 ms)", async () => {
    const clock = new NodeClock();
    let fired = 0;
    for (const ms of [2 ** 31, 3_000_000_000, 86_400_000 * 30, Infinity]) clock.setTimeout(() => fired++, ms);
    await new Promise((r) => setTimeout(r, 100));
    expect(fired).toBe(0);
    clock.clearAll();
  });

  it("chains a long delay and fires it when it is due, not before", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const clock = new NodeClock();
    const firedAt: number[] = [];
    const delay = 3 * NODE_MAX_TIMER_MS + 12_345;
    clock.setTimeout(() => firedAt.push(clock.now()), delay);
    clock.setTimeout(() => firedAt.push(-1), 10);
    vi.advanceTimersByTime(10);
    expect(firedAt).toEqual([-1]);
    vi.advanceTimersByTime(delay - 11);
    expect(firedAt).toEqual([-1]);
    vi.advanceTimersByTime(1);
    expect(firedAt).toEqual([-1, delay]);
  });

  it("clears a chained timer at any step", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const clock = new NodeClock();
    let fired = false;
    const id = clock.setTimeout(() => (fired = true), 2 * NODE_MAX_TIMER_MS);
    vi.advanceTimersByTime(NODE_MAX_TIMER_MS + 5);
    clock.clearTimeout(id);
    vi.advanceTimersByTime(2 * NODE_MAX_TIMER_MS);
    expect(fired).toBe(false);
  });
});

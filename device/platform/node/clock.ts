/**
 * Clock port on Node: monotonic milliseconds from performance.now(), timers from the event loop.
 * Node fires any delay above 2^31-1 ms after 1 ms (TimeoutOverflowWarning), so a long delay is
 * chained in steps of at most that size: it may fire late by a scheduling tick, never early.
 * (The global `performance`, so tests with fake timers move it too.)
 */
import type { Clock, TimerId } from "../../ports";

/** The longest delay Node's setTimeout honours (a signed 32-bit millisecond count). */
export const NODE_MAX_TIMER_MS = 2 ** 31 - 1;

export class NodeClock implements Clock {
  private readonly origin = performance.now();
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();
  private nextId = 1;

  now(): number {
    return Math.floor(performance.now() - this.origin);
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.nextId++;
    // NaN would be treated by Node as 1 ms; Infinity is a timer that never fires (chained for ever).
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    this.arm(id, fn, this.now() + delay, delay);
    return id;
  }

  private arm(id: TimerId, fn: () => void, due: number, remaining: number): void {
    const step = Math.min(remaining, NODE_MAX_TIMER_MS);
    const handle = setTimeout(() => {
      const left = due - this.now();
      if (step === NODE_MAX_TIMER_MS && left > 0) return this.arm(id, fn, due, left);
      this.timers.delete(id);
      fn();
    }, step);
    this.timers.set(id, handle);
  }

  clearTimeout(id: TimerId): void {
    const handle = this.timers.get(id);
    if (handle !== undefined) {
      clearTimeout(handle);
      this.timers.delete(id);
    }
  }

  /** Cancels every pending timer (device shutdown). */
  clearAll(): void {
    for (const handle of this.timers.values()) clearTimeout(handle);
    this.timers.clear();
  }
}

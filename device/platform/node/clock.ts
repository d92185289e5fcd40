/** Clock port on Node: monotonic milliseconds from performance.now(), timers from the event loop. */
import { performance } from "node:perf_hooks";
import type { Clock, TimerId } from "../../ports";

export class NodeClock implements Clock {
  private readonly origin = performance.now();
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();
  private nextId = 1;

  now(): number {
    return Math.floor(performance.now() - this.origin);
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.nextId++;
    const handle = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.max(0, ms));
    this.timers.set(id, handle);
    return id;
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

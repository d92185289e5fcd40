/**
 * A deterministic virtual clock: the scheduler host-sim and the tests use to fast-forward.
 * Timers fire in (due time, creation order) order, synchronously inside advance()/runUntil(),
 * so a run is the same on every engine and every machine.
 */
import type { Clock, TimerId } from "../../device/ports";

interface Timer {
  id: TimerId;
  due: number;
  fn: () => void;
}

export class VirtualClock implements Clock {
  private current: number;
  private nextId = 1;
  /** Min-heap ordered by (due, id). */
  private heap: Timer[] = [];
  private live = new Set<TimerId>();

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const delay = ms > 0 ? Math.floor(ms) : 0;
    const timer = { id: this.nextId++, due: this.current + delay, fn };
    this.push(timer);
    this.live.add(timer.id);
    return timer.id;
  }

  clearTimeout(id: TimerId): void {
    // Lazy deletion: the heap entry is skipped when it surfaces.
    this.live.delete(id);
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.live.size;
  }

  /** Due time of the next live timer, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    this.dropDead();
    return this.heap.length > 0 ? this.heap[0].due : undefined;
  }

  /** Runs every timer due up to and including `t`, then sets the time to `t`. */
  runUntil(t: number): void {
    for (;;) {
      this.dropDead();
      const top = this.heap[0];
      if (top === undefined || top.due > t) break;
      this.pop();
      this.live.delete(top.id);
      this.current = top.due;
      top.fn();
    }
    if (t > this.current) this.current = t;
  }

  advance(ms: number): void {
    this.runUntil(this.current + ms);
  }

  /** Runs timers until none is pending or the time limit is reached; returns the stop time. */
  runUntilIdle(limitMs = Number.MAX_SAFE_INTEGER): number {
    for (;;) {
      const due = this.nextDueAt();
      if (due === undefined || due > limitMs) return this.current;
      this.runUntil(due);
    }
  }

  /** Runs exactly the next due timer (advancing time to it); false when none is pending. */
  step(): boolean {
    const due = this.nextDueAt();
    if (due === undefined) return false;
    this.dropDead();
    const top = this.pop()!;
    this.live.delete(top.id);
    this.current = top.due;
    top.fn();
    return true;
  }

  private dropDead(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) this.pop();
  }

  private less(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.id < b.id);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

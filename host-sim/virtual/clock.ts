/**
 * A deterministic virtual clock: the scheduler host-sim and the tests use to fast-forward.
 * Timers fire in (due time, creation order) order, synchronously inside advance()/runUntil(),
 * so a run is the same on every engine and every machine.
 */
import type { Clock, TimerId } from "../../device/ports";

const INITIAL_CAPACITY = 1024;
/** A TimerId is generation × SLOT_SPACE + slot: clearTimeout finds its slot without a lookup table. */
const SLOT_SPACE = 0x400000;

/** Runs a timer's callback on someone's behalf (a fleet device drops timers of an earlier boot). */
export interface TimerGuard {
  run(fn: () => void): void;
}

export class VirtualClock implements Clock {
  private current: number;
  /** Creation order: the tie-break for equal due times. */
  private nextSeq = 1;
  /**
   * 4-ary min-heap ordered by (due, seq), as parallel typed arrays: comparisons and moves touch flat
   * numbers instead of one object per timer (a fleet keeps tens of thousands pending), and a
   * timer costs no allocation. Each entry names a slot holding its callback (and guard).
   */
  private size = 0;
  private dues = new Float64Array(INITIAL_CAPACITY);
  private seqs = new Float64Array(INITIAL_CAPACITY);
  private slots = new Int32Array(INITIAL_CAPACITY);
  /** Per slot: the callback while pending (undefined once fired or cancelled), guard, generation. */
  private readonly fns: ((() => void) | undefined)[] = [];
  private readonly guards: (TimerGuard | undefined)[] = [];
  private readonly gens: number[] = [];
  /** Slots whose heap entry is gone: a cancelled timer's slot is freed only when its entry surfaces. */
  private readonly freeSlots: number[] = [];
  private live = 0;

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** `guard`, when given, runs the callback (instead of a wrapping closure per timer). */
  setTimeout(fn: () => void, ms: number, guard?: TimerGuard): TimerId {
    const delay = ms > 0 ? Math.floor(ms) : 0;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.fns.length;
      if (slot >= SLOT_SPACE) throw new Error(`virtual clock: more than ${SLOT_SPACE} timers pending`);
      this.fns.push(fn);
      this.guards.push(guard);
      this.gens.push(1);
    } else {
      this.fns[slot] = fn;
      this.guards[slot] = guard;
      this.gens[slot]++;
    }
    this.push(this.current + delay, this.nextSeq++, slot);
    this.live++;
    return this.gens[slot] * SLOT_SPACE + slot;
  }

  clearTimeout(id: TimerId): void {
    const slot = id % SLOT_SPACE;
    // Only the timer this id named, if still pending; its heap entry is skipped when it surfaces.
    if (this.gens[slot] !== (id - slot) / SLOT_SPACE || this.fns[slot] === undefined) return;
    this.fns[slot] = undefined;
    this.guards[slot] = undefined;
    this.live--;
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.live;
  }

  /** Due time of the next live timer, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    this.dropDead();
    return this.size > 0 ? this.dues[0] : undefined;
  }

  /** Runs every timer due up to and including `t`, then sets the time to `t`. */
  runUntil(t: number): void {
    for (;;) {
      this.dropDead();
      if (this.size === 0 || this.dues[0] > t) break;
      this.fireTop();
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
    if (this.nextDueAt() === undefined) return false;
    this.fireTop();
    return true;
  }

  /** Removes the (live) top entry, advances time to it and runs it. */
  private fireTop(): void {
    const due = this.dues[0];
    const slot = this.slots[0];
    const fn = this.fns[slot]!;
    const guard = this.guards[slot];
    this.fns[slot] = undefined;
    this.guards[slot] = undefined;
    this.live--;
    this.pop();
    this.current = due;
    if (guard === undefined) fn();
    else guard.run(fn);
  }

  private dropDead(): void {
    while (this.size > 0 && this.fns[this.slots[0]] === undefined) this.pop();
  }

  private push(due: number, seq: number, slot: number): void {
    if (this.size === this.dues.length) this.grow();
    const dues = this.dues;
    const seqs = this.seqs;
    const slots = this.slots;
    let i = this.size++;
    // Sift up with a hole: parents move down until the new entry fits.
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pd = dues[p];
      if (pd < due || (pd === due && seqs[p] < seq)) break;
      dues[i] = pd;
      seqs[i] = seqs[p];
      slots[i] = slots[p];
      i = p;
    }
    dues[i] = due;
    seqs[i] = seq;
    slots[i] = slot;
  }

  /** Removes the top entry and frees its slot: the last entry sifts down from the root. */
  private pop(): void {
    this.freeSlots.push(this.slots[0]);
    const n = --this.size;
    if (n === 0) return;
    const dues = this.dues;
    const seqs = this.seqs;
    const slots = this.slots;
    const due = dues[n];
    const seq = seqs[n];
    const slot = slots[n];
    let i = 0;
    for (;;) {
      // Four children per node: half the levels of a binary heap, siblings side by side in memory.
      const first = 4 * i + 1;
      if (first >= n) break;
      let m = first;
      const end = first + 4 < n ? first + 4 : n;
      for (let c = first + 1; c < end; c++) {
        if (dues[c] < dues[m] || (dues[c] === dues[m] && seqs[c] < seqs[m])) m = c;
      }
      const md = dues[m];
      if (due < md || (due === md && seq < seqs[m])) break;
      dues[i] = md;
      seqs[i] = seqs[m];
      slots[i] = slots[m];
      i = m;
    }
    dues[i] = due;
    seqs[i] = seq;
    slots[i] = slot;
  }

  private grow(): void {
    const n = this.dues.length * 2;
    const dues = new Float64Array(n);
    dues.set(this.dues);
    const seqs = new Float64Array(n);
    seqs.set(this.seqs);
    const slots = new Int32Array(n);
    slots.set(this.slots);
    this.dues = dues;
    this.seqs = seqs;
    this.slots = slots;
  }
}

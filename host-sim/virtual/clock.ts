/**
 * A deterministic virtual clock: the scheduler host-sim and the tests use to fast-forward.
 * Timers fire in (due time, creation order) order, synchronously inside advance()/runUntil(),
 * so a run is the same on every engine and every machine.
 *
 * Most timers of a fleet are set with one of a few delays (the network's latency for every
 * chunk on the wire, the agent's PUBACK deadline, its report period). Timers set with the same
 * delay fall due in the order they were set, so each such delay gets a FIFO lane: a push and a
 * pop cost O(1) instead of a heap sift, and the heap keeps only the odd delays. The next timer
 * is the smallest (due, seq) among the heap's top and the lanes' heads: the same order as one heap.
 */
import type { Clock, TimerId } from "../../device/ports";

const INITIAL_CAPACITY = 1024;
/** A TimerId is generation × SLOT_SPACE + slot: clearTimeout finds its slot without a lookup table. */
const SLOT_SPACE = 0x400000;
/** At most this many lanes: each is one more comparison per timer fired. */
const MAX_LANES = 4;
/** A delay gets a lane once this many timers were set with it (counted while lanes are free). */
const LANE_AFTER = 32;
/**
 * Delays counted towards a lane at once. Counting is Misra–Gries: a delay not in the table
 * takes a free entry or lowers every count by one, so odd delays (there are many) cannot push
 * out a delay used by more than 1/(LANE_CANDIDATES + 1) of the timers.
 */
const LANE_CANDIDATES = 16;
const LANE_INITIAL_CAPACITY = 256;
/** pick() results besides a lane index. */
const HEAP = -1;
const NONE = -2;

/** Timers set with one delay, oldest first, in a ring of parallel typed arrays. */
class Lane {
  dues = new Float64Array(LANE_INITIAL_CAPACITY);
  seqs = new Float64Array(LANE_INITIAL_CAPACITY);
  slots = new Int32Array(LANE_INITIAL_CAPACITY);
  mask = LANE_INITIAL_CAPACITY - 1;
  /** Entries are head..tail-1 (positions taken & mask); both only grow. */
  head = 0;
  tail = 0;

  constructor(readonly delay: number) {}

  push(due: number, seq: number, slot: number): void {
    if (this.tail - this.head > this.mask) this.grow();
    const k = this.tail++ & this.mask;
    this.dues[k] = due;
    this.seqs[k] = seq;
    this.slots[k] = slot;
  }

  private grow(): void {
    const n = (this.mask + 1) * 2;
    const dues = new Float64Array(n);
    const seqs = new Float64Array(n);
    const slots = new Int32Array(n);
    let j = 0;
    for (let i = this.head; i < this.tail; i++, j++) {
      const k = i & this.mask;
      dues[j] = this.dues[k];
      seqs[j] = this.seqs[k];
      slots[j] = this.slots[k];
    }
    this.dues = dues;
    this.seqs = seqs;
    this.slots = slots;
    this.mask = n - 1;
    this.head = 0;
    this.tail = j;
  }
}

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
  private readonly lanes: Lane[] = [];
  /** Delays counted towards a lane (−1: free entry) and their counts, while lanes are still free. */
  private readonly candidateDelays = new Float64Array(LANE_CANDIDATES).fill(-1);
  private readonly candidateCounts = new Int32Array(LANE_CANDIDATES);

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
    const lane = this.laneFor(delay);
    if (lane !== undefined) lane.push(this.current + delay, this.nextSeq++, slot);
    else this.push(this.current + delay, this.nextSeq++, slot);
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
    const src = this.pick();
    return src === NONE ? undefined : this.dueOf(src);
  }

  /** Runs every timer due up to and including `t`, then sets the time to `t`. */
  runUntil(t: number): void {
    for (;;) {
      const src = this.pick();
      if (src === NONE || this.dueOf(src) > t) break;
      this.fire(src);
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
    const src = this.pick();
    if (src === NONE) return false;
    this.fire(src);
    return true;
  }

  /** The lane for timers set with `delay`: an existing one, or a new one once the delay is common. */
  private laneFor(delay: number): Lane | undefined {
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) if (lanes[i].delay === delay) return lanes[i];
    if (lanes.length === MAX_LANES) return undefined;
    const delays = this.candidateDelays;
    const counts = this.candidateCounts;
    let free = -1;
    for (let i = 0; i < LANE_CANDIDATES; i++) {
      if (delays[i] === delay) {
        if (++counts[i] < LANE_AFTER) return undefined;
        delays[i] = -1;
        counts[i] = 0;
        const lane = new Lane(delay);
        lanes.push(lane);
        return lane;
      }
      if (free < 0 && delays[i] < 0) free = i;
    }
    if (free >= 0) {
      delays[free] = delay;
      counts[free] = 1;
    } else {
      for (let i = 0; i < LANE_CANDIDATES; i++) if (--counts[i] === 0) delays[i] = -1;
    }
    return undefined;
  }

  /**
   * Drops cancelled entries at the heap's top and the lanes' heads, then says where the next
   * timer is: HEAP, a lane's index, or NONE. Ties on due time go to the one set first.
   */
  private pick(): number {
    while (this.size > 0 && this.fns[this.slots[0]] === undefined) this.pop();
    let best = NONE;
    let bestDue = 0;
    let bestSeq = 0;
    if (this.size > 0) {
      best = HEAP;
      bestDue = this.dues[0];
      bestSeq = this.seqs[0];
    }
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i];
      let k = lane.head & lane.mask;
      while (lane.head !== lane.tail && this.fns[lane.slots[k]] === undefined) {
        this.freeSlots.push(lane.slots[k]);
        k = ++lane.head & lane.mask;
      }
      if (lane.head === lane.tail) continue;
      const due = lane.dues[k];
      if (best === NONE || due < bestDue || (due === bestDue && lane.seqs[k] < bestSeq)) {
        best = i;
        bestDue = due;
        bestSeq = lane.seqs[k];
      }
    }
    return best;
  }

  private dueOf(src: number): number {
    if (src === HEAP) return this.dues[0];
    const lane = this.lanes[src];
    return lane.dues[lane.head & lane.mask];
  }

  /** Removes the (live) entry pick() chose, advances time to it and runs it. */
  private fire(src: number): void {
    let due: number;
    let slot: number;
    if (src === HEAP) {
      due = this.dues[0];
      slot = this.slots[0];
      this.pop();
    } else {
      const lane = this.lanes[src];
      const k = lane.head++ & lane.mask;
      due = lane.dues[k];
      slot = lane.slots[k];
      this.freeSlots.push(slot);
    }
    const fn = this.fns[slot]!;
    const guard = this.guards[slot];
    this.fns[slot] = undefined;
    this.guards[slot] = undefined;
    this.live--;
    this.current = due;
    if (guard === undefined) fn();
    else guard.run(fn);
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

/**
 * A rollout's devices, with the indexes its tick reads kept up to date as devices change, so a
 * tick costs in proportion to the devices that change, are in flight or get offered, not to the
 * size of the rollout: the devices in each state, the outcome counts (overall and per wave), the
 * offer times (how many offers in the last minute), the devices waiting for an offer in
 * position order, and (once asked) the succeeded devices by stratum. A read-only Map to everyone
 * else (the step function never writes to it; the runner applies a step's changes with set()).
 */
import { OtaResult } from "../../device/core/ota/codes";
import { countDevice, countInWave, emptyTally, emptyWaveCounts, type DeviceRolloutState, type DeviceState, type Tally, type WaveCounts } from "./machine";

/** Waiting for an offer: queued, or deferred by a central precondition (not by the device's own 11). */
export function waitsForOffer(d: DeviceState): boolean {
  return d.state === "queued" || (d.state === "deferred" && d.result !== OtaResult.Deferred);
}

/** Index of the first element of the sorted `xs` that is > x (or >= x when `orEqual`). */
function bound(xs: number[], x: number, orEqual: boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x || (!orEqual && xs[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(xs: number[], x: number): void {
  xs.splice(bound(xs, x, false), 0, x);
}

function removeSorted(xs: number[], x: number): void {
  const i = bound(xs, x, true);
  if (xs[i] === x) xs.splice(i, 1);
}

export class RolloutDevices implements ReadonlyMap<string, DeviceState> {
  private readonly byId = new Map<string, DeviceState>();
  private readonly byState = new Map<DeviceRolloutState, Map<string, DeviceState>>();
  private readonly byPosition = new Map<number, string>();
  private readonly counts: Tally = emptyTally();
  private readonly waves: WaveCounts[] = [];
  /** offeredAt of every device offered at least once, ascending. */
  private readonly offerTimes: number[] = [];
  /** Positions of the devices that wait for an offer, ascending. */
  private readonly waitingPositions: number[] = [];
  /** Succeeded devices by stratum, from the first succeededIn() on; see there. */
  private strata: Map<string, Set<string>> | undefined;
  /** Each placed device's stratum. */
  private readonly placed = new Map<string, string>();
  /** Succeeded devices not placed yet (succeeded or relabelled since the last succeededIn()). */
  private readonly unplaced = new Set<string>();

  constructor(devices: Iterable<DeviceState> = []) {
    for (const d of devices) this.set(d.deviceId, d);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): DeviceState | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  keys(): MapIterator<string> {
    return this.byId.keys();
  }

  values(): MapIterator<DeviceState> {
    return this.byId.values();
  }

  entries(): MapIterator<[string, DeviceState]> {
    return this.byId.entries();
  }

  [Symbol.iterator](): MapIterator<[string, DeviceState]> {
    return this.byId.entries();
  }

  forEach(fn: (d: DeviceState, id: string, map: ReadonlyMap<string, DeviceState>) => void): void {
    for (const [id, d] of this.byId) fn(d, id, this);
  }

  /** Adds or replaces a device (`id` is its deviceId) and updates every index. */
  set(id: string, d: DeviceState): this {
    const old = this.byId.get(id);
    if (old) this.unindex(old);
    this.byId.set(id, d);
    this.index(d);
    return this;
  }

  /** The devices in `state`, in no particular order. */
  inState(state: DeviceRolloutState): Iterable<DeviceState> {
    return this.byState.get(state)?.values() ?? [];
  }

  /** Outcome counts over all devices (do not modify; copy it). */
  tally(): Readonly<Tally> {
    return this.counts;
  }

  /** Counts of wave `w` (do not modify; copy it). */
  wave(w: number): Readonly<WaveCounts> {
    return this.waves[w] ?? emptyWaveCounts();
  }

  /** How many devices were last offered after `t` (offeredAt > t). */
  offeredAfter(t: number): number {
    return this.offerTimes.length - bound(this.offerTimes, t, false);
  }

  /** The devices waiting for an offer, in position order. */
  *waiting(): Generator<DeviceState> {
    for (const p of this.waitingPositions) yield this.byId.get(this.byPosition.get(p)!)!;
  }

  /**
   * How many succeeded devices, those in `skip` left out, are in `stratum`, counted up to
   * `atLeast`. Each device's stratum (`stratumOf`: the registry's labels) is looked up once, the
   * first time this is asked after it succeeded (or after relabel()), not on every call: a tick
   * waiting for successes in a stratum that has too few then costs that stratum's devices, where
   * it asked the registry about every succeeded device before.
   */
  succeededIn(stratum: string, atLeast: number, stratumOf: (id: string) => string, skip: ReadonlyMap<string, unknown>): number {
    if (!this.strata) {
      this.strata = new Map();
      for (const id of this.byState.get("succeeded")?.keys() ?? []) this.unplaced.add(id);
    }
    for (const id of this.unplaced) this.place(id, stratumOf(id));
    this.unplaced.clear();
    let n = 0;
    for (const id of this.strata.get(stratum) ?? []) if (!skip.has(id) && ++n >= atLeast) break;
    return n;
  }

  /** The device's labels changed: its stratum is looked up again when next asked. */
  relabel(id: string): void {
    if (this.unplace(id)) this.unplaced.add(id);
  }

  private place(id: string, stratum: string): void {
    this.placed.set(id, stratum);
    let set = this.strata!.get(stratum);
    if (!set) this.strata!.set(stratum, (set = new Set()));
    set.add(id);
  }

  private unplace(id: string): boolean {
    const stratum = this.placed.get(id);
    if (stratum === undefined) return false;
    this.strata!.get(stratum)!.delete(id);
    this.placed.delete(id);
    return true;
  }

  private index(d: DeviceState): void {
    let s = this.byState.get(d.state);
    if (!s) this.byState.set(d.state, (s = new Map()));
    s.set(d.deviceId, d);
    this.byPosition.set(d.position, d.deviceId);
    countDevice(this.counts, d, 1);
    while (this.waves.length <= d.wave) this.waves.push(emptyWaveCounts());
    countInWave(this.waves[d.wave], d, 1);
    if (d.offeredAt !== null) insertSorted(this.offerTimes, d.offeredAt);
    if (waitsForOffer(d)) insertSorted(this.waitingPositions, d.position);
    if (this.strata && d.state === "succeeded") this.unplaced.add(d.deviceId);
  }

  private unindex(d: DeviceState): void {
    this.byState.get(d.state)?.delete(d.deviceId);
    countDevice(this.counts, d, -1);
    countInWave(this.waves[d.wave], d, -1);
    if (d.offeredAt !== null) removeSorted(this.offerTimes, d.offeredAt);
    if (waitsForOffer(d)) removeSorted(this.waitingPositions, d.position);
    if (d.state === "succeeded") {
      this.unplaced.delete(d.deviceId);
      this.unplace(d.deviceId);
    }
  }
}

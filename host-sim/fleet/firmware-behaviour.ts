/**
 * Hardware revisions and per-version firmware behaviour as ground truth: the simulator decides,
 * from each device's seed, which hardware revision it has and what a firmware version does on
 * it (crash at start-up on a share of one revision; drain the battery faster), without the
 * image's code knowing. So a rollout can be rehearsed against a version that is bad only on part
 * of the fleet, and the run can count which devices ever ran it. Node-free.
 *
 * Scenario syntax (docs/fleet.md), per group:
 *   "hardware": "B"                      every device of the group is revision B
 *   "hardware": { "A": 70, "B": 30 }     percent of the group's devices per revision
 *   "charger": { "at": "20h", "ua": 200000 }   the group's devices are plugged in at that time
 * and top level:
 *   "firmwareBehaviour": { "1.3.0": { "crashAtStart": { "hardware": "B", "percent": 30 }, "drainFactor": 1.4 } }
 */
import { SeededRandom } from "../virtual/random";

/** Revision name → percent of the group (sums to 100). */
export type HardwareMix = Record<string, number>;
export const DEFAULT_HARDWARE = "A";
const REVISION = /^[A-Za-z0-9_-]{1,16}$/;

export interface Charger {
  atMs: number;
  ua: number;
}

export interface VersionBehaviour {
  /** Crashes at every start on `percent` % of the devices of revision `hardware` (chosen per device). */
  crashAtStart?: { hardware: string; percent: number };
  /** Battery drain while this version runs, ‰ of normal (1.4 → 1400). */
  drainPermille: number;
}

type Fail = (path: string, what: string) => void;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Validates a group's `hardware` (a revision name, or revision → percent summing to 100). */
export function parseHardware(v: unknown, path: string, fail: Fail): HardwareMix | undefined {
  if (typeof v === "string") {
    if (!REVISION.test(v)) return void fail(path, `expected a revision name (1..16 letters, digits, "_" or "-"), got ${JSON.stringify(v)}`);
    return { [v]: 100 };
  }
  if (!isObj(v)) return void fail(path, `expected a revision name or { "A": 70, "B": 30 } (percent per revision), got ${JSON.stringify(v)}`);
  let sum = 0;
  for (const [k, x] of Object.entries(v)) {
    if (!REVISION.test(k)) fail(`${path}.${k}`, "revision names are 1..16 letters, digits, \"_\" or \"-\"");
    if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 100) fail(`${path}.${k}`, `expected a percent (integer 0..100), got ${JSON.stringify(x)}`);
    else sum += x;
  }
  if (sum !== 100) return void fail(path, `percents must add up to 100, got ${sum}`);
  return v as HardwareMix;
}

export function parseCharger(v: unknown, path: string, fail: Fail, duration: (v: unknown) => number | undefined): Charger | undefined {
  if (!isObj(v)) return void fail(path, 'expected { "at": "20h", "ua": 200000 }');
  for (const k of Object.keys(v)) if (k !== "at" && k !== "ua") fail(`${path}.${k}`, "unknown key (allowed: at, ua)");
  const atMs = duration(v.at);
  if (atMs === undefined) fail(`${path}.at`, `expected a duration like "20h", got ${JSON.stringify(v.at)}`);
  const ua = v.ua;
  if (typeof ua !== "number" || !Number.isInteger(ua) || ua < 1 || ua > 5_000_000) fail(`${path}.ua`, `expected a charger current in µA (1..5000000), got ${JSON.stringify(ua)}`);
  return atMs === undefined || typeof ua !== "number" ? undefined : { atMs, ua };
}

/** Validates `firmwareBehaviour`; `revisions` are those the groups define (a crash on an unknown one is refused). */
export function parseFirmwareBehaviour(v: unknown, path: string, fail: Fail, revisions: Set<string>): Record<string, VersionBehaviour> {
  const out: Record<string, VersionBehaviour> = {};
  if (!isObj(v)) return (fail(path, 'expected { "1.3.0": { "crashAtStart": {...}, "drainFactor": 1.4 } }'), out);
  for (const [version, b] of Object.entries(v)) {
    const p = `${path}.${version}`;
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(version)) fail(p, `expected a version "MAJOR.MINOR.PATCH" as key`);
    if (!isObj(b)) {
      fail(p, "expected an object with crashAtStart and/or drainFactor");
      continue;
    }
    for (const k of Object.keys(b)) if (k !== "crashAtStart" && k !== "drainFactor") fail(`${p}.${k}`, "unknown key (allowed: crashAtStart, drainFactor)");
    const got: VersionBehaviour = { drainPermille: 1000 };
    if (b.drainFactor !== undefined) {
      const f = b.drainFactor;
      if (typeof f !== "number" || !(f >= 0.1 && f <= 10)) fail(`${p}.drainFactor`, `expected a factor in 0.1..10 (1.4 = 40 % faster), got ${JSON.stringify(f)}`);
      else got.drainPermille = Math.round(f * 1000);
    }
    if (b.crashAtStart !== undefined) {
      const c = b.crashAtStart;
      if (!isObj(c)) fail(`${p}.crashAtStart`, 'expected { "hardware": "B", "percent": 30 }');
      else {
        for (const k of Object.keys(c)) if (k !== "hardware" && k !== "percent") fail(`${p}.crashAtStart.${k}`, "unknown key (allowed: hardware, percent)");
        const hw = c.hardware;
        const pct = c.percent;
        if (typeof hw !== "string" || !revisions.has(hw)) fail(`${p}.crashAtStart.hardware`, `expected a revision some group has (${[...revisions].join(", ")}), got ${JSON.stringify(hw)}`);
        if (typeof pct !== "number" || !Number.isInteger(pct) || pct < 0 || pct > 100) fail(`${p}.crashAtStart.percent`, `expected an integer percent 0..100, got ${JSON.stringify(pct)}`);
        if (typeof hw === "string" && typeof pct === "number") got.crashAtStart = { hardware: hw, percent: pct };
      }
    }
    out[version] = got;
  }
  return out;
}

/** A device's hardware revision, drawn from its group's mix and its seed. */
export function deviceHardware(mix: HardwareMix | undefined, deviceSeed: number): string {
  if (!mix) return DEFAULT_HARDWARE;
  let x = new SeededRandom(deviceSeed).fork("hardware").below(100);
  for (const [rev, pct] of Object.entries(mix)) {
    if (x < pct) return rev;
    x -= pct;
  }
  return Object.keys(mix)[0];
}

/** What firmware.ts needs of a device. */
export interface BehaviourDevice {
  index: number;
  seed: number;
  hardware: string;
  battery: { drainPermille: number };
}

/** The fleet's ground truth of which device ran which version, and what each version does. */
export class FirmwareGroundTruth {
  /** Version → device index → simulated ms of its first boot of that version. */
  private readonly ran = new Map<string, Map<number, number>>();

  constructor(private readonly behaviours: Record<string, VersionBehaviour>) {}

  /** At each boot of `version`: sets the battery drain; returns why it crashes at start, if it does. */
  atBoot(dev: BehaviourDevice, version: string, nowMs: number): string | undefined {
    let first = this.ran.get(version);
    if (!first) this.ran.set(version, (first = new Map()));
    if (!first.has(dev.index)) first.set(dev.index, nowMs);
    const b = this.behaviours[version];
    dev.battery.drainPermille = b?.drainPermille ?? 1000;
    const c = b?.crashAtStart;
    if (c && dev.hardware === c.hardware && new SeededRandom(dev.seed).fork(`crash:${version}`).below(100) < c.percent) {
      return `version ${version} crashes at start on this unit of hardware revision ${c.hardware}`;
    }
    return undefined;
  }

  /** How many devices ever booted `version` (crashing boots count: the image was installed and started). */
  devicesThatRan(version: string): number {
    return this.ran.get(version)?.size ?? 0;
  }

  /** When device `index` first booted `version` (simulated ms), if it did. */
  firstBoot(version: string, index: number): number | undefined {
    return this.ran.get(version)?.get(index);
  }
}

/** What scheduleChargers needs of the fleet. */
export interface ChargerFleet {
  clock: { setTimeout(fn: () => void, ms: number): unknown };
  devices: readonly { group: { charger?: Charger }; battery: { setCharging(ua: number): void } }[];
}

/** Plugs each group's devices into their charger at the group's `charger.at`. */
export function scheduleChargers(fleet: ChargerFleet): void {
  for (const dev of fleet.devices) {
    const c = dev.group.charger;
    if (c) fleet.clock.setTimeout(() => dev.battery.setCharging(c.ua), c.atMs);
  }
}

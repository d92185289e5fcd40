/**
 * Radio quality as ground truth: a group's `radio` profile gives each device a mean RSSI (the
 * group mean ± a per-device spread, from the device seed), an RSSI walk around it, and a rate of
 * link drops that follows from that mean (the weaker the signal, the more often the Wi-Fi
 * association drops). So a device in a bad spot both reports a weak RSSI and loses its link
 * often, and the simulator knows which devices those are without labelling them. The same mean
 * sets the device's link rate (linkRateBps): the virtual network paces its bytes with it and the
 * power model charges its radio for that airtime.
 * Node-free; integer arithmetic and a table, no Math.pow (traces must not depend on the engine).
 *
 * Scenario syntax (docs/fleet.md), per group:
 *   "radio": { "meanDbm": -92, "spreadDbm": 3, "walkDbm": 6, "dropFor": "3m" }
 *   optional "dropsPerDay": 10 overrides the curve below.
 */
import type { PathChecker } from "../../service/path-checker";
import { TCP_WINDOW_CAP_BPS } from "../virtual/network";
import { SeededRandom } from "../virtual/random";

export interface RadioProfile {
  meanDbm: number;
  /** Per-device mean = meanDbm + U(-spread, +spread). */
  spreadDbm: number;
  /** The RSSI random walk stays within mean ± walk. */
  walkDbm: number;
  /** How long a drop keeps the radio down (ms). */
  dropForMs: number;
  /** Drops per device-day; when absent, DROPS_PER_DAY_BY_DBM at the device's mean. */
  dropsPerDay?: number;
}

export const RADIO_KEYS = ["meanDbm", "spreadDbm", "walkDbm", "dropFor", "dropsPerDay"] as const;

/**
 * Link drops per day by mean RSSI (dBm), linear between points: a Wi-Fi link is steady above
 * about −75 dBm and falls apart towards −95 dBm.
 */
const DROPS_PER_DAY_BY_DBM: readonly [number, number][] = [
  [-100, 48],
  [-95, 24],
  [-90, 12],
  [-85, 6],
  [-80, 1.5],
  [-75, 0.3],
  [-60, 0.05],
  [0, 0.05],
];

export function dropsPerDayAt(meanDbm: number): number {
  return atDbm(DROPS_PER_DAY_BY_DBM, meanDbm);
}

/** A table's value at `dbm`, linear between points, flat beyond the ends. */
function atDbm(t: readonly [number, number][], dbm: number): number {
  if (dbm <= t[0][0]) return t[0][1];
  for (let i = 1; i < t.length; i++) {
    const [x1, y1] = t[i];
    const [x0, y0] = t[i - 1];
    if (dbm <= x1) return y0 + ((y1 - y0) * (dbm - x0)) / (x1 - x0);
  }
  return t[t.length - 1][1];
}

/**
 * TCP goodput (bit/s) an ESP32 station gets by mean RSSI (dBm), linear between points: the
 * fastest 802.11 b/g/n rate the signal carries, times about one half (MAC and TCP overhead), and
 * at most 20 Mbit/s, ESP-IDF's "air in lab" TCP TX/RX figure for the ESP32 (api-guides
 * wifi-driver "ESP32 Wi-Fi Throughput", iperf example with 64 KiB windows). Rates per RSSI follow
 * the ESP32 datasheet's receiver sensitivities, rounded: HT20 MCS7 (72 Mbit/s) near −72 dBm, MCS4
 * (39) −80, MCS2 (19.5) −86, MCS1 (13) −88, MCS0 (6.5) −91, 802.11b 2 Mbit/s −94, 1 Mbit/s −97.
 */
const GOODPUT_BPS_BY_DBM: readonly [number, number][] = [
  [-98, 500_000],
  [-94, 1_000_000],
  [-91, 3_000_000],
  [-88, 6_000_000],
  [-85, 9_000_000],
  [-80, 18_000_000],
  [-75, 20_000_000],
  [0, 20_000_000],
];

/** The radio's TCP goodput at a mean RSSI (bit/s), before the TCP window's cap. */
export function radioGoodputBps(meanDbm: number): number {
  return Math.floor(atDbm(GOODPUT_BPS_BY_DBM, meanDbm));
}

/**
 * A device link's rate, each direction (bit/s): the radio's goodput, capped by lwIP's window per
 * round trip (TCP_WINDOW_CAP_BPS, 6.55 Mbit/s at the default latency). So at a good spot the
 * window is the limit, and from about −88 dBm down the radio is.
 */
export function linkRateBps(meanDbm: number): number {
  return Math.min(radioGoodputBps(meanDbm), TCP_WINDOW_CAP_BPS);
}

/** A group without `radio` is at a good spot: this RSSI, and its link rate. */
export const GOOD_SIGNAL_DBM = -60;
export const DEFAULT_LINK_RATE_BPS = linkRateBps(GOOD_SIGNAL_DBM);

/** The link rate of a device of a group (its radio profile and seed; a good spot without one). */
export function deviceLinkRateBps(p: RadioProfile | undefined, deviceSeed: number): number {
  return p ? linkRateBps(deviceRadio(p, deviceSeed).meanDbm) : DEFAULT_LINK_RATE_BPS;
}

/** One device's radio, drawn from its group's profile and its seed. */
export interface DeviceRadio {
  meanDbm: number;
  rssiMin: number;
  rssiMax: number;
  dropsPerDay: number;
  dropForMs: number;
}

export function deviceRadio(p: RadioProfile, deviceSeed: number): DeviceRadio {
  const r = new SeededRandom(deviceSeed).fork("radio");
  const meanDbm = p.meanDbm + (p.spreadDbm > 0 ? r.below(2 * p.spreadDbm + 1) - p.spreadDbm : 0);
  return {
    meanDbm,
    rssiMin: Math.max(-120, meanDbm - p.walkDbm),
    rssiMax: Math.min(0, meanDbm + p.walkDbm),
    dropsPerDay: p.dropsPerDay ?? dropsPerDayAt(meanDbm),
    dropForMs: p.dropForMs,
  };
}

/** Validates a group's `radio` object; `c` collects problems with their path. */
export function parseRadio(v: unknown, path: string, c: PathChecker): RadioProfile | undefined {
  const o = c.object(v, path, RADIO_KEYS);
  if (!o) return undefined;
  if (o.meanDbm === undefined) c.fail(`${path}.meanDbm`, "required");
  return {
    meanDbm: c.int(o, "meanDbm", path, -120, -70, 0),
    spreadDbm: c.int(o, "spreadDbm", path, 0, 0, 30),
    walkDbm: c.int(o, "walkDbm", path, 0, 6, 30),
    dropForMs: c.duration(o, "dropFor", path, 2 * 60_000, true),
    dropsPerDay: o.dropsPerDay === undefined ? undefined : c.num(o, "dropsPerDay", path, 0, 0, 1000),
  };
}

/** What radio.ts needs of the fleet: its devices and clock (host-sim/fleet/engine.ts VirtualFleet). */
export interface RadioFleet {
  clock: { now(): number; setTimeout(fn: () => void, ms: number): unknown };
  devices: readonly { seed: number; group: { radio?: RadioProfile }; running: boolean; flap(forMs: number): void }[];
}

/**
 * Schedules each radio device's link drops until `untilMs`: random gaps at its rate, from
 * its own seed (the same device drops at the same times whichever shard runs it). Returns the
 * number of devices with a radio profile.
 */
export function scheduleRadioDrops(fleet: RadioFleet, untilMs: number, onDrop?: () => void): number {
  let n = 0;
  for (const dev of fleet.devices) {
    const p = dev.group.radio;
    if (!p) continue;
    n++;
    const radio = deviceRadio(p, dev.seed);
    if (radio.dropsPerDay <= 0) continue;
    const r = new SeededRandom(dev.seed).fork("radio-drops");
    const meanGapMs = 86_400_000 / radio.dropsPerDay;
    const next = () => {
      // Gap = mean × (u1 + u2), u ~ U(0,1): the right rate without Math.log (engine-dependent last bit).
      const gap = Math.max(1000, Math.floor(((r.below(1_000_000) + r.below(1_000_000)) / 1_000_000) * meanGapMs));
      const at = fleet.clock.now() + gap;
      if (at >= untilMs) return;
      fleet.clock.setTimeout(() => {
        if (dev.running) {
          dev.flap(radio.dropForMs);
          onDrop?.();
        }
        next();
      }, gap);
    };
    next();
  }
  return n;
}

/** The sensor RSSI bounds for a device with a radio profile (none without one). */
export function radioSensor(p: RadioProfile | undefined, deviceSeed: number): { rssiMin?: number; rssiMax?: number } {
  if (!p) return {};
  const r = deviceRadio(p, deviceSeed);
  return { rssiMin: r.rssiMin, rssiMax: r.rssiMax };
}

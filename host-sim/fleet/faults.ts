/**
 * Turns a scenario's faults and OTA offers into timers on the fleet's virtual clock.
 * Device choice and random fault times come from seeds derived per (fault, device index)
 * (seeds.ts), so they do not depend on sharding. Random faults are a renewal process with
 * integer inter-arrival times uniform in [0, 2·mean] (no Math.log: exact on every engine).
 * At the end of the scenario everything heals, and the drain period runs fault-free.
 * Node-free.
 */
import { DEFAULT_LATENCY_MS, type TransmitHook, type VirtualLink } from "../virtual/network";
import { SeededRandom } from "../virtual/random";
import type { FleetDevice } from "./device";
import { groupOf, type VirtualFleet } from "./engine";
import type { Fault, FaultTiming, Scenario, Selector } from "./scenario";
import { faultSeed, mix } from "./seeds";
import { EV } from "./trace";
import { publishHostile } from "./hostile-publisher";

const DAY_MS = 86_400_000;
/** "loss": the `loss` fault's seed tag. */
const LOSS_TAG = 0x6c6f7373;
/** Trace "device" for fleet-wide events. */
const FLEET = 0xffffffff;
const KIND_CODES: Record<Fault["kind"] | "ota", number> = {
  "broker-outage": 1,
  "broker-restart": 2,
  "link-flap": 3,
  latency: 4,
  loss: 5,
  "power-cut": 6,
  "flash-error": 7,
  "clock-drift": 8,
  "time-sync-fail": 9,
  "battery-drain": 10,
  ota: 11,
  hostile: 12,
};

export interface FaultCounters {
  powerCuts: number;
  linkFlaps: number;
  brokerOutages: number;
  brokerRestarts: number;
}

/** Global device indices a selector picks, as a membership test. */
export function selectDevices(sel: Selector, ordinal: number, seed: number, scenario: Scenario, total: number): (index: number) => boolean {
  const groupFor = groupOf(scenario.groups, total);
  const inGroup = (i: number) => sel.group === undefined || groupFor(i).name === sel.group;
  if (sel.count !== undefined) {
    const ranked: [number, number][] = [];
    for (let i = 0; i < total; i++) if (inGroup(i)) ranked.push([faultSeed(seed, ordinal, i), i]);
    ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const chosen = new Set(ranked.slice(0, sel.count).map((r) => r[1]));
    return (i) => chosen.has(i);
  }
  if (sel.permille !== undefined) {
    const p = sel.permille;
    return (i) => inGroup(i) && faultSeed(seed, ordinal, i) % 1000 < p;
  }
  return inGroup;
}

/**
 * The `loss` fault (fault number `ordinal` of the scenario): a lost segment that TCP cannot recover
 * in time resets the connection part-way through a write, for `permille` of the writes. Each link
 * direction draws from its own stream, seeded from the run seed, the fault, and the link's device
 * and connection number, so which of a link's writes is lost depends only on that link's own
 * writes: not on other devices, the order of ties at one millisecond, or the shard.
 */
export function lossFault(seed: number, ordinal: number, permille: number): TransmitHook {
  const streams = new WeakMap<VirtualLink, (SeededRandom | undefined)[]>();
  return (link, from, bytes) => {
    let pair = streams.get(link);
    if (pair === undefined) streams.set(link, (pair = [undefined, undefined]));
    const side = from === "client" ? 0 : 1;
    const r = (pair[side] ??= new SeededRandom(mix(seed, LOSS_TAG, ordinal, link.device, link.conn, side)));
    return r.below(1000) < permille ? { deliverBytes: r.below(bytes.length), then: "drop" } : undefined;
  };
}

export function scheduleFaults(fleet: VirtualFleet, scenario: Scenario, seed: number, total: number, durationMs: number): void {
  const { clock } = fleet;
  const at = (t: number, fn: () => void) => {
    if (t < durationMs) clock.setTimeout(fn, Math.max(0, t - clock.now()));
  };
  const mark = (ordinal: number, kind: Fault["kind"] | "ota", device = FLEET) => fleet.trace.add(clock.now(), device, EV.fault, ordinal, KIND_CODES[kind]);
  const chosen = (sel: Selector, ordinal: number): FleetDevice[] => {
    const pick = selectDevices(sel, ordinal, seed, scenario, total);
    return fleet.devices.filter((d) => pick(d.index));
  };

  /** Timed: once at `at` for every chosen device. Random: a renewal process per chosen device. */
  const perDevice = (timing: FaultTiming, sel: Selector, ordinal: number, kind: Fault["kind"], act: (d: FleetDevice) => void) => {
    if ("at" in timing) {
      at(timing.at, () => {
        for (const d of chosen(sel, ordinal)) {
          mark(ordinal, kind, d.index);
          act(d);
        }
      });
      return;
    }
    const mean = Math.max(1, Math.floor(DAY_MS / timing.perDeviceDay));
    for (const d of chosen(sel, ordinal)) {
      const r = new SeededRandom(faultSeed(seed, ordinal, d.index) ^ 0x5eed);
      const next = () => {
        at(clock.now() + r.below(2 * mean + 1), () => {
          mark(ordinal, kind, d.index);
          act(d);
          next();
        });
      };
      next();
    }
  };

  scenario.faults.forEach((f, ordinal) => {
    switch (f.kind) {
      case "broker-outage":
        at(f.at, () => {
          mark(ordinal, f.kind);
          fleet.faults.brokerOutages++;
          fleet.broker.stop();
          clock.setTimeout(() => fleet.broker.start(), f.forMs);
        });
        return;
      case "broker-restart":
        at(f.at, () => {
          mark(ordinal, f.kind);
          fleet.faults.brokerRestarts++;
          fleet.broker.restart({ loseSessions: f.loseSessions });
        });
        return;
      case "latency":
        at(f.at, () => {
          mark(ordinal, f.kind);
          fleet.network.latencyMs = f.ms;
          clock.setTimeout(() => (fleet.network.latencyMs = DEFAULT_LATENCY_MS), f.forMs);
        });
        return;
      case "loss":
        at(f.at, () => {
          mark(ordinal, f.kind);
          fleet.network.transmitFault = lossFault(seed, ordinal, f.permille);
          clock.setTimeout(() => (fleet.network.transmitFault = undefined), f.forMs);
        });
        return;
      case "link-flap":
        perDevice(f.timing, f.select, ordinal, f.kind, (d) => {
          if (!d.running) return;
          fleet.faults.linkFlaps++;
          d.flap(f.forMs);
        });
        return;
      case "power-cut":
        perDevice(f.timing, f.select, ordinal, f.kind, (d) => {
          if (f.duringFlashWrite) d.cutOnFlashWriteMs = f.offMs;
          else if (d.running) d.powerCut(f.offMs);
        });
        return;
      case "flash-error":
        perDevice({ at: f.at }, f.select, ordinal, f.kind, (d) => {
          d.flashErrorPermille = f.permille;
          d.flashErrorUntil = f.at + f.forMs;
        });
        return;
      case "clock-drift":
        perDevice({ at: f.at }, f.select, ordinal, f.kind, (d) => (d.wall.driftPpm = f.ppm));
        return;
      case "time-sync-fail":
        perDevice({ at: f.at }, f.select, ordinal, f.kind, (d) => {
          d.syncFailUntil = f.at + f.forMs;
          d.wall.unsync();
          clock.setTimeout(() => {
            if (d.running) d.syncTime();
          }, f.forMs);
        });
        return;
      case "battery-drain":
        perDevice({ at: f.at }, f.select, ordinal, f.kind, (d) => d.battery.burst(f.ua, f.forMs));
        return;
      case "hostile":
        perDevice({ at: f.at }, f.select, ordinal, f.kind, (d) => publishHostile(fleet, d, f, new SeededRandom(faultSeed(seed, ordinal, d.index) ^ 0x6057)));
        return;
    }
  });

  scenario.ota.forEach((offer, k) => {
    const ordinal = scenario.faults.length + k;
    at(offer.at, () => {
      for (const d of chosen(offer.select, ordinal)) {
        mark(ordinal, "ota", d.index);
        fleet.offer(d, offer.firmware, offer.bad);
      }
    });
  });

  // The end of the scenario: every fault heals, the drain period runs clean.
  clock.setTimeout(() => {
    fleet.broker.start();
    fleet.network.latencyMs = DEFAULT_LATENCY_MS;
    fleet.network.transmitFault = undefined;
    for (const d of fleet.devices) {
      d.radioDownUntil = 0;
      d.flashErrorPermille = 0;
      d.cutOnFlashWriteMs = -1;
      d.syncFailUntil = 0;
      if (d.running && d.wall.now() === undefined && d.group.timeSync) d.syncTime();
    }
  }, durationMs);
}

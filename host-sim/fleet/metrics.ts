/**
 * Fleet counters and the run summary (what `--json` writes). Counters, not event lists:
 * per device only two growable bitsets of sequence numbers (made by the agent, seen by the
 * backend), so a 10,000-device week costs a few MB. Node-free.
 */

/** What every empty SeqSet starts with: a device that has sent nothing holds no bytes of its own. */
const NO_BITS = new Uint8Array(0);
/** The first bitset a set gets: 256 sequence numbers (a device's first few hours at 60 s). */
const FIRST_BYTES = 32;

/** A set of small non-negative integers as a growable bitset. */
export class SeqSet {
  private bits = NO_BITS;
  size = 0;

  /** Adds n; returns false when it was already there. */
  add(n: number): boolean {
    const byte = n >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2, FIRST_BYTES));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (n & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    this.size++;
    return true;
  }

  has(n: number): boolean {
    const byte = n >>> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (n & 7))) !== 0;
  }

  /** Members of this set missing from `other`. */
  countMissingFrom(other: SeqSet): number {
    let missing = 0;
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) {
      const lack = a[i] & ~(i < b.length ? b[i] : 0);
      if (lack !== 0) for (let k = lack; k !== 0; k &= k - 1) missing++;
    }
    return missing;
  }
}

/** Per-device bookkeeping the backend and the fleet keep. */
export class DeviceBook {
  readonly made = new SeqSet();
  readonly seen = new SeqSet();
  /** Largest "dropped by the offline queue" count the device reported. */
  queueDropped = 0;
  /** The agent raised a low/critical battery alarm; the backend saw one in telemetry. */
  alarmRaised = false;
  alarmSeen = false;
  /** Ground truth: the simulated charge fell to the alarm threshold at some point. */
  crossedLow = false;
  /** OTA: the offer this device got (version, bad), and the last status the backend saw. */
  offeredVersion = 0;
  offeredBad = false;
  lastOtaState = -1;
  lastOtaResult = -1;
  /** The backend saw "rolled back" (105) for the offered version. */
  rolledBackSeen = false;
  /** Offers published to this device (scenario offers and a hostile publisher's). */
  offers = 0;
  /** Software restarts (updates, rollbacks). */
  restarts = 0;
  /** Versions offered and then withdrawn: never to be installed (made at the first withdrawal). */
  withdrawnVersions: Set<number> | undefined = undefined;
}

export interface OtaOutcomes {
  offered: number;
  updated: number;
  rolledBack: number;
  deferred: number;
  failed: number;
  bricked: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** An update restarts a device once to install and at most once more to roll back. */
export const RESTARTS_PER_OFFER = 2;
/** Restarts no offer explains that still are not a loop. */
const RESTART_SLACK = 2;
/** How many devices a check names as examples. */
export const CHECK_EXAMPLES = 5;

/** "id (N restarts)" for each device that restarted more than its offers explain, in device order. */
export function loopingDevices(ids: readonly string[], books: readonly DeviceBook[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const { restarts, offers } = books[i];
    if (restarts > RESTARTS_PER_OFFER * offers + RESTART_SLACK) out.push(`${ids[i]} (${restarts} restarts)`);
  }
  return out;
}

/**
 * What the virtual fleet's checks are computed from: counts that add up across shards, and
 * the first CHECK_EXAMPLES device examples (by device index) of each kind of problem.
 */
export interface CheckFacts {
  published: number;
  delivered: number;
  lost: number;
  lostOn: string[];
  bricked: number;
  badOffered: number;
  badRolledBack: number;
  badNotRolledBack: string[];
  online: number;
  offline: number;
  offlineIds: string[];
  savingOffline: number;
  looping: number;
  loopingIds: string[];
  withdrawnInstalled: number;
  withdrawnIds: string[];
  alerts: number;
  crossed: number;
  mismatches: number;
  alarmMismatch: string[];
}

export function fleetChecks(f: CheckFacts): Check[] {
  return [
    { name: "no acknowledged telemetry lost", ok: f.lost === 0, detail: f.lost === 0 ? `${f.delivered}/${f.published} delivered` : `${f.lost} lost, e.g. ${f.lostOn.join(", ")}` },
    { name: "no device bricked", ok: f.bricked === 0, detail: `${f.bricked} bricked` },
    {
      name: "bad-image devices rolled back",
      ok: f.badRolledBack === f.badOffered,
      detail: `${f.badRolledBack}/${f.badOffered}` + (f.badNotRolledBack.length ? `; not: ${f.badNotRolledBack.join(", ")}` : ""),
    },
    {
      name: "every live device online at the end",
      ok: f.offline === 0,
      detail:
        (f.offline === 0 ? `${f.online} online` : `${f.offline} offline, e.g. ${f.offlineIds.join(", ")}`) +
        (f.savingOffline > 0 ? `; ${f.savingOffline} on a critical battery not counted` : ""),
    },
    {
      name: "no restart loop",
      ok: f.looping === 0,
      detail: f.looping === 0 ? `at most ${RESTARTS_PER_OFFER} restarts per offer` : `${f.looping} looping, e.g. ${f.loopingIds.join(", ")}`,
    },
    {
      name: "withdrawn offers never installed",
      ok: f.withdrawnInstalled === 0,
      detail: f.withdrawnInstalled === 0 ? "none running" : `running a withdrawn version: ${f.withdrawnIds.join(", ")}`,
    },
    {
      name: "battery alerts match simulated crossings",
      ok: f.mismatches === 0,
      detail: f.mismatches === 0 ? `${f.alerts} alerts, ${f.crossed} crossings` : `${f.mismatches} mismatches, e.g. ${f.alarmMismatch.join(", ")}`,
    },
  ];
}

/**
 * The facts of the whole fleet from its shards': counts add up; examples are the first
 * CHECK_EXAMPLES by device id (ids are zero-padded indices, and each shard's examples are its
 * first ones), so they are the ones a single thread names.
 */
export function mergeCheckFacts(parts: CheckFacts[]): CheckFacts {
  const merged = {} as Record<string, number | string[]>;
  for (const key of Object.keys(parts[0]) as (keyof CheckFacts)[]) {
    const values = parts.map((p) => p[key]);
    merged[key] = Array.isArray(values[0])
      ? (values as string[][]).flat().sort().slice(0, CHECK_EXAMPLES)
      : (values as number[]).reduce((a, v) => a + v, 0);
  }
  return merged as unknown as CheckFacts;
}

export interface FleetSummary {
  /** Rollouts the fleet service ran (scenario key `rollouts`; host-sim/fleet/service-run.ts). */
  rollouts?: unknown[];
  devices: number;
  seed: number;
  broker: string;
  shards: number;
  simulatedSeconds: number;
  wallSeconds: number;
  deviceHoursPerWallSecond: number;
  telemetry: {
    published: number;
    delivered: number;
    lost: number;
    duplicates: number;
    /** Dropped by full offline queues (reported by the devices, not counted as lost). */
    queueDropped: number;
    /** Still queued on devices that were dead or bricked at the end. */
    stranded: number;
  };
  reconnects: number;
  peakReconnectsPerSecond: number;
  ota: OtaOutcomes;
  battery: { alerts: number; alertsSeenByBackend: number; crossedThreshold: number; dead: number };
  faults: { powerCuts: number; crashes: number; watchdogResets: number; restarts: number; linkFlaps: number; brokerOutages: number; brokerRestarts: number };
  boots: number;
  onlineAtEnd: number;
  traceHash: string;
  traceEvents: number;
  checks: Check[];
  /** Devices inside XS (--xs): how many, their boots, and what crossing into XS cost. */
  xs?: { devices: number; boots: number; deliveries: number; portCalls: number; computrons: number };
  /** Real-time runs only: the connect ramp (wall clock). */
  realtime?: { connectSpanSeconds: number; connectsPerSecond: number; peakConnectsPerSecond: number; backendConnects: number; sessionPresentReconnects: number; drainSeconds: number };
}

/** Merges shard summaries (shards ran disjoint device sets); the checks are computed again from the merged facts. */
export function mergeSummaries(parts: FleetSummary[], traceHash: string, facts: CheckFacts[]): FleetSummary {
  // Shards run side by side: the run took as long as the slowest.
  const wallSeconds = Math.max(...parts.map((p) => p.wallSeconds));
  const sum = (f: (s: FleetSummary) => number) => parts.reduce((a, s) => a + f(s), 0);
  const first = parts[0];
  const devices = sum((s) => s.devices);
  return {
    devices,
    seed: first.seed,
    broker: first.broker,
    shards: parts.length,
    simulatedSeconds: first.simulatedSeconds,
    wallSeconds,
    deviceHoursPerWallSecond: wallSeconds > 0 ? (devices * first.simulatedSeconds) / 3600 / wallSeconds : 0,
    telemetry: {
      published: sum((s) => s.telemetry.published),
      delivered: sum((s) => s.telemetry.delivered),
      lost: sum((s) => s.telemetry.lost),
      duplicates: sum((s) => s.telemetry.duplicates),
      queueDropped: sum((s) => s.telemetry.queueDropped),
      stranded: sum((s) => s.telemetry.stranded),
    },
    reconnects: sum((s) => s.reconnects),
    // Shards run side by side in virtual time: rates add up at worst.
    peakReconnectsPerSecond: sum((s) => s.peakReconnectsPerSecond),
    ota: {
      offered: sum((s) => s.ota.offered),
      updated: sum((s) => s.ota.updated),
      rolledBack: sum((s) => s.ota.rolledBack),
      deferred: sum((s) => s.ota.deferred),
      failed: sum((s) => s.ota.failed),
      bricked: sum((s) => s.ota.bricked),
    },
    battery: {
      alerts: sum((s) => s.battery.alerts),
      alertsSeenByBackend: sum((s) => s.battery.alertsSeenByBackend),
      crossedThreshold: sum((s) => s.battery.crossedThreshold),
      dead: sum((s) => s.battery.dead),
    },
    faults: {
      powerCuts: sum((s) => s.faults.powerCuts),
      crashes: sum((s) => s.faults.crashes),
      watchdogResets: sum((s) => s.faults.watchdogResets),
      restarts: sum((s) => s.faults.restarts),
      linkFlaps: sum((s) => s.faults.linkFlaps),
      brokerOutages: sum((s) => s.faults.brokerOutages),
      brokerRestarts: sum((s) => s.faults.brokerRestarts),
    },
    boots: sum((s) => s.boots),
    onlineAtEnd: sum((s) => s.onlineAtEnd),
    traceHash,
    traceEvents: sum((s) => s.traceEvents),
    ...(parts.some((p) => p.xs)
      ? {
          xs: {
            devices: sum((s) => s.xs?.devices ?? 0),
            boots: sum((s) => s.xs?.boots ?? 0),
            deliveries: sum((s) => s.xs?.deliveries ?? 0),
            portCalls: sum((s) => s.xs?.portCalls ?? 0),
            computrons: sum((s) => s.xs?.computrons ?? 0),
          },
        }
      : {}),
    checks: fleetChecks(mergeCheckFacts(facts)),
  };
}

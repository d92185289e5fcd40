/**
 * A battery-life run for one virtual device: the real BatteryMonitor and TelemetryReporter
 * on a SimBattery and SimSensors under the virtual clock, with a simple link model
 * (outages, a reconnect policy whose attempts cost charge, a queue for batches made while
 * offline). Node-free, so the same run executes in the XS tier and its trace is compared.
 */
import { MemoryKv } from "../virtual/kv";
import { VirtualClock } from "../virtual/clock";
import { SeededRandom } from "../virtual/random";
import { VirtualWallClock } from "../virtual/wall-clock";
import { BatteryMonitor, type BatteryConfig } from "../../device/core/battery/monitor";
import { TelemetryReporter, type TelemetryConfig } from "../../device/core/telemetry/reporter";
import { stopOnBrownout } from "../../device/core/telemetry/brownout";
import { decodeTelemetryBatch, type LinkStats } from "../../device/core/telemetry/record";
import { Outbox } from "../../device/core/link/outbox";
import { SimSensors } from "../sensors/sim-sensors";
import { SimBattery, type SimBatteryModel } from "./sim-battery";
import { DEFAULT_POWER_COSTS } from "./power";

export type ReconnectPolicy = "fixed" | "backoff";

export interface BatteryRunOptions {
  seed: number;
  telemetry: TelemetryConfig;
  maxMs: number;
  battery?: Partial<SimBatteryModel>;
  monitor?: Partial<BatteryConfig>;
  /** Link outages: one per `outageEveryMs` on average, each up to `outageMaxMs`; 0 = none. */
  outageEveryMs?: number;
  outageMaxMs?: number;
  reconnect?: ReconnectPolicy;
  /** Wall clock syncs this long after boot (undefined = never). */
  wallSyncAfterMs?: number;
  /** Trace sink; a line per event and a digest per `digestEvery` batches. */
  emit?: (line: string) => void;
  digestEvery?: number;
  activeMs?: number;
  /** CPU time a wake only to read the battery costs (maxBatteryReadIntervalMs), ms at the active current. */
  batteryWakeMs?: number;
  transmitMs?: number;
  /**
   * Model the chip's own brown-out reset: a read finding the cell below the regulator's cut-off
   * (SimBattery.isDead) resets the chip instead, and whatever was buffered is lost.
   */
  chipResetWhenDead?: boolean;
}

export interface BatteryRunResult {
  batches: number;
  bytes: number;
  alarms: { t: number; alarm: string; pct: number }[];
  brownoutAt: number | undefined;
  /** True charge (‰) when the firmware's brown-out save ran. */
  chargePermilleAtBrownout: number | undefined;
  /** When the chip's own brown-out reset came first (chipResetWhenDead), and the samples it lost. */
  chipResetAt: number | undefined;
  samplesLostAtReset: number;
  /** Report intervals seen between consecutive batches while online (ms → count). */
  intervals: Map<number, number>;
  /** Every batch the reporter produced: when, the alarm level then, and its sample count. */
  publishes: { t: number; alarm: string; samples: number }[];
  /** At the first report with true charge ≤ 50 %: time and the reported time to empty. */
  midlife: { t: number; timeToEmptyMin: number | undefined } | undefined;
  connectAttempts: number;
  /** Wakes taken only to read the battery, between sampling ticks. */
  batteryWakes: number;
  /** Charge drawn from the cell over the run (µA·ms). */
  drawnUaMs: number;
  /** Batches handed to the persistent offline queue at brown-out (they survive a reboot). */
  savedBatches: Uint8Array[];
  /** The topic they were queued under. */
  topic: string;
  samplesInSaved: number;
  kv: MemoryKv;
  endMs: number;
  chargePermilleAtEnd: number;
  digest: number;
}

/** FNV-1a over bytes, continuing from `h`. */
export function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h >>> 0;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 300_000;
const FIXED_RETRY_MS = 5_000;

export function runBattery(o: BatteryRunOptions): BatteryRunResult {
  const emit = o.emit ?? (() => {});
  const root = new SeededRandom(o.seed);
  const clock = new VirtualClock(0);
  const wall = new VirtualWallClock(clock);
  const battery = new SimBattery(clock, root.fork("battery"), o.battery);
  const sensors = new SimSensors(clock, root.fork("sensors"));
  const linkRand = root.fork("link");
  const kv = new MemoryKv(64 * 1024);
  let chipReset: () => void = () => {};
  const adc = o.chipResetWhenDead
    ? { resolution: battery.resolution, fullScaleMv: battery.fullScaleMv, read: () => { if (battery.isDead()) chipReset(); return battery.read(); }, chargerState: () => battery.chargerState() }
    : battery;
  const monitor = new BatteryMonitor({ clock, battery: adc }, o.monitor);
  const activeMs = o.activeMs ?? 300;
  const batteryWakeMs = o.batteryWakeMs ?? DEFAULT_POWER_COSTS.batteryWakeMs;
  const transmitMs = o.transmitMs ?? 400;

  let seq = 0;
  let online = false;
  let reconnects = 0;
  let attempt = 0;
  let stopped = false;
  const queue: Uint8Array[] = [];
  const r: BatteryRunResult = {
    batches: 0, bytes: 0, alarms: [], brownoutAt: undefined, chargePermilleAtBrownout: undefined, chipResetAt: undefined, samplesLostAtReset: 0, intervals: new Map(), publishes: [], midlife: undefined,
    connectAttempts: 0, batteryWakes: 0, drawnUaMs: 0, savedBatches: [], topic: `tether/sim-${o.seed}/telemetry`, samplesInSaved: 0, kv, endMs: 0, chargePermilleAtEnd: 0, digest: 0x811c9dc5,
  };
  let lastSentAt = -1;

  const send = (bytes: Uint8Array): void => {
    battery.transmit(transmitMs);
    r.batches++;
    r.bytes += bytes.length;
    r.digest = fnv1a(bytes, r.digest);
    if (o.digestEvery && r.batches % o.digestEvery === 0) emit(`t=${clock.now()} batches=${r.batches} bytes=${r.bytes} digest=${r.digest.toString(16)}`);
  };

  const reporter = new TelemetryReporter(
    {
      clock,
      wallClock: wall,
      sensors,
      identity: { deviceId: `sim-${o.seed}`, firmware: "1.0.0", slot: 0, resetReason: "power-on" },
      nextSeq: () => seq++,
      battery: monitor,
      onWake: (kind) => battery.active(kind === "sample" ? activeMs : batteryWakeMs),
      linkStats: (): LinkStats => ({ state: online ? "online" : "backoff", reconnects, queued: queue.length }),
      publish: (bytes, batch) => {
        r.publishes.push({ t: clock.now(), alarm: monitor.state.alarm, samples: batch.samples.length });
        if (!online) {
          queue.push(bytes);
          return;
        }
        const now = clock.now();
        if (lastSentAt >= 0 && queue.length === 0) r.intervals.set(now - lastSentAt, (r.intervals.get(now - lastSentAt) ?? 0) + 1);
        lastSentAt = now;
        send(bytes);
        if (r.midlife === undefined && battery.chargePermille() <= 500) {
          r.midlife = { t: now, timeToEmptyMin: monitor.report()?.timeToEmptyMin };
          emit(`t=${now} midlife tte=${r.midlife.timeToEmptyMin}`);
        }
      },
    },
    o.telemetry,
  );

  monitor.onEvent((e) => {
    if (e.type === "alarm") {
      r.alarms.push({ t: clock.now(), alarm: e.alarm, pct: e.pct });
      emit(`t=${clock.now()} alarm ${e.alarm} pct=${e.pct} mv=${e.mv}`);
    } else if (e.type === "status") {
      emit(`t=${clock.now()} status ${e.status}`);
    }
  });

  // ---- link model: connect attempts cost charge; outages force reconnects
  const tryConnect = (): void => {
    if (stopped) return;
    battery.connectionAttempt();
    r.connectAttempts++;
    if (outageUntil > clock.now()) {
      attempt++;
      const wait = o.reconnect === "fixed"
        ? FIXED_RETRY_MS
        : linkRand.below(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * (1 << Math.min(attempt, 20))) + 1);
      clock.setTimeout(tryConnect, wait);
      return;
    }
    online = true;
    attempt = 0;
    if (r.connectAttempts > 1) reconnects++;
    while (queue.length > 0) send(queue.shift()!);
  };
  let outageUntil = 0;
  const scheduleOutage = (): void => {
    if (!o.outageEveryMs) return;
    clock.setTimeout(() => {
      if (stopped) return;
      outageUntil = clock.now() + 1 + linkRand.below(o.outageMaxMs ?? 3_600_000);
      if (online) {
        online = false;
        emit(`t=${clock.now()} link down until ${outageUntil}`);
        clock.setTimeout(tryConnect, 1_000);
      }
      scheduleOutage();
    }, 1 + linkRand.below(2 * o.outageEveryMs));
  };

  /** The device stops for good (chip reset or brown-out): no link, no more reconnects. */
  const halt = (): void => {
    stopped = true;
    online = false;
  };

  chipReset = () => {
    if (stopped) return;
    halt();
    r.chipResetAt = clock.now();
    r.samplesLostAtReset = reporter.bufferedSamples + queue.reduce((n, b) => n + decodeTelemetryBatch(b).samples.length, 0);
    reporter.stop();
    emit(`t=${clock.now()} chip reset lost=${r.samplesLostAtReset}`);
  };

  stopOnBrownout(monitor, reporter, {
    save: (batches) => {
      if (r.chipResetAt !== undefined) return; // too late: the chip already reset
      // The agent's path: unsent batches go to the link's persistent outbox (KV port).
      const all = [...queue, ...batches];
      const persistent = new Outbox(kv, () => {});
      for (const b of all) persistent.push(r.topic, b);
      r.savedBatches = all;
      r.samplesInSaved = all.reduce((n, b) => n + decodeTelemetryBatch(b).samples.length, 0);
    },
    shutdown: () => {
      if (r.chipResetAt !== undefined) return;
      halt();
      r.brownoutAt = clock.now();
      r.chargePermilleAtBrownout = battery.chargePermille();
      emit(`t=${clock.now()} brownout saved=${r.savedBatches.length} charge=${battery.chargePermille()}`);
    },
  });

  if (o.wallSyncAfterMs !== undefined) clock.setTimeout(() => wall.sync(1_795_000_000_000 + clock.now()), o.wallSyncAfterMs);
  monitor.prime();
  reporter.start();
  tryConnect();
  scheduleOutage();
  while (!stopped && clock.now() < o.maxMs) clock.runUntil(Math.min(o.maxMs, clock.now() + 3_600_000));
  r.endMs = clock.now();
  r.chargePermilleAtEnd = battery.chargePermille();
  r.connectAttempts = battery.connectAttempts;
  r.batteryWakes = reporter.batteryWakes;
  r.drawnUaMs = battery.drawnUaMs;
  emit(`t=${clock.now()} end batches=${r.batches} bytes=${r.bytes} attempts=${r.connectAttempts} digest=${r.digest.toString(16)}`);
  return r;
}

/**
 * The telemetry loop: samples the sensors (and the battery) every sampling interval, and
 * every reporting interval packs the buffered samples into as few batches as the byte
 * limit allows and hands each encoded batch to `publish` (the link/offline queue decides
 * what happens next). Callback-based on the Clock port, so virtual time fast-forwards it.
 */
import { INTERVAL_BOUNDS, intervalProblem } from "../config/intervals";
import { rethrowHalt, type Clock, type Log, type MemoryMeter, type SensorSample, type Sensors, type WallClock, type ResetReason } from "../../ports";
import type { BatteryMonitor } from "../battery/monitor";
import {
  REPORT_INTERVAL_SEC_MAX,
  REPORT_INTERVAL_SEC_MIN,
  TELEMETRY_MAX_BYTES,
  TelemetryError,
  checkSample,
  encodeTelemetryBatch,
  fitSamples,
  type LinkStats,
  type TelemetryBatch,
  type TelemetrySample,
} from "./record";

export interface TelemetryConfig {
  sampleIntervalMs: number;
  /** The base reporting interval; the battery policy stretches it while low. */
  reportIntervalMs: number;
}

export const DEFAULT_TELEMETRY_CONFIG: TelemetryConfig = { sampleIntervalMs: 60_000, reportIntervalMs: 300_000 };
/** Samples kept between reports; beyond this the oldest go (and are counted). */
export const MAX_BUFFERED_SAMPLES = 256;

/** Why the reporter woke: a sampling tick, or a battery read of its own between ticks. */
export type WakeKind = "sample" | "battery";

export interface DeviceIdentity {
  deviceId: string;
  firmware: string;
  slot: 0 | 1;
  resetReason: ResetReason;
}

export interface TelemetryReporterDeps {
  clock: Clock;
  wallClock: WallClock;
  sensors: Sensors;
  identity: DeviceIdentity;
  /** Next message sequence number; the agent persists it across reboots. */
  nextSeq(): number;
  /** Receives each encoded batch (and the batch, for logs). Must not throw; if it does, the batch is counted lost. */
  publish(bytes: Uint8Array, batch: TelemetryBatch): void;
  battery?: BatteryMonitor;
  linkStats?(): LinkStats | undefined;
  /** The script engine's free heap, reported in each batch (boards only). */
  memory?: MemoryMeter;
  /**
   * Called at the start of each wake: a sampling tick ("sample"), or a battery read between ticks
   * ("battery", maxBatteryReadIntervalMs). Host-sim charges the CPU's current here.
   */
  onWake?(kind: WakeKind): void;
  log?: Log;
  maxBytes?: number;
  maxBufferedSamples?: number;
}

/**
 * A sampling tick due this soon after a report would read the battery while the report's
 * packets are still on the air (a TX burst sags the cell by I·R, ~60 mV on a small LiPo):
 * its battery reading is taken just before the report instead. A batch's TX takes tens of ms.
 */
export const REPORT_TX_GUARD_MS = 100;

/** Shortest interval accepted: below this a timer loop would starve the device. */
export const MIN_INTERVAL_MS = INTERVAL_BOUNDS.reportIntervalMs.min;

/** Both intervals within INTERVAL_BOUNDS (never past a timer's 2³¹−1 ms), or TelemetryError. */
export function validateTelemetryConfig(c: TelemetryConfig): void {
  const p = intervalProblem("sampleIntervalMs", c.sampleIntervalMs) ?? intervalProblem("reportIntervalMs", c.reportIntervalMs);
  if (p !== undefined) throw new TelemetryError("invalid", p);
}

/** Stored sample: always uptime ms; converted to wall time when a batch is built. */
type Pending = TelemetrySample;

/**
 * Removes the first `n` items in place. Not splice: that returns a new array of what it
 * removed, and emptying an array (splice or length = 0) frees its storage, which the next
 * sample's push then allocates again, once per report.
 */
function dropFront<T>(items: T[], n: number): void {
  const keep = items.length - n;
  for (let i = 0; i < keep; i++) items[i] = items[i + n];
  for (let i = 0; i < n; i++) items.pop();
}

/**
 * A sample at `tMs` with the readings of `r`, always built in this one shape (the readings a
 * record carries; an absent one stays undefined, as the encoder skips it). Not a spread: this
 * runs for every sample twice (taken, then copied into its batch), and spreading an object
 * another module made is a generic property copy in V8.
 */
function sampleAt(tMs: number, r: SensorSample): TelemetrySample {
  return { tMs, temperatureCentiC: r.temperatureCentiC, humidityPermille: r.humidityPermille, rssiDbm: r.rssiDbm };
}

/**
 * Batch key 15: the reporting interval in whole seconds, rounded up (a backend waiting a little
 * longer is harmless; one waiting less raises a false offline alert), within the wire bounds.
 */
export function announcedIntervalSec(intervalMs: number): number {
  return Math.min(REPORT_INTERVAL_SEC_MAX, Math.max(REPORT_INTERVAL_SEC_MIN, Math.ceil(intervalMs / 1000)));
}

export class TelemetryReporter {
  private config: TelemetryConfig;
  private pending: Pending[] = [];
  private dropped = 0;
  /**
   * One clock timer for the next sampling tick or report, whichever is due first: with equal
   * intervals (the usual setting) both fall at one instant, and one timer serves the two.
   */
  private timer: number | undefined;
  /** When `timer` fires (meaningful while it is set). */
  private timerAt = 0;
  /** A sampling tick is scheduled, and when it is due (clock ms). */
  private sampleArmed = false;
  private sampleDueAt = 0;
  /** A report is scheduled, and when it is due. */
  private reportArmed = false;
  private reportDueAt = 0;
  /**
   * The order the two were scheduled in (a counter): due at one instant they run in that
   * order, the order two separate timers would fire in.
   */
  private scheduled = 0;
  private sampleOrder = 0;
  private reportOrder = 0;
  /** The pending tick's battery reading was taken before a report: the tick does not read again. */
  private batteryReadEarly = false;
  /**
   * Battery reads between sampling ticks (the monitor's maxBatteryReadIntervalMs): the span from
   * one tick's scheduling to the next tick is cut into `batterySlots` equal parts, and the battery
   * is read at each inner boundary. One slot (sampling at or below the maximum) means none.
   */
  private batteryArmed = false;
  private batteryDueAt = 0;
  private batteryFrom = 0;
  private batterySpan = 0;
  private batterySlots = 1;
  private batterySlot = 0;
  /** Wakes taken only to read the battery (their cost is counted in bench/battery-accuracy). */
  batteryWakes = 0;
  private running = false;
  /** reportNow's lists of the batches it built, reused; undefined while a report uses them. */
  private outBytes: (Uint8Array | undefined)[] | undefined = [];
  private outBatches: (TelemetryBatch | undefined)[] | undefined = [];
  /** Batches the publish callback threw on. */
  lostBatches = 0;
  batchesSent = 0;

  constructor(private readonly deps: TelemetryReporterDeps, config: TelemetryConfig = DEFAULT_TELEMETRY_CONFIG) {
    validateTelemetryConfig(config);
    this.config = { ...config };
  }

  get currentConfig(): TelemetryConfig {
    return { ...this.config };
  }

  /** The reporting interval in force now (after the battery policy). */
  effectiveReportIntervalMs(): number {
    const base = this.config.reportIntervalMs;
    return this.deps.battery ? this.deps.battery.reportIntervalMs(base) : base;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleSample(0);
    this.scheduleReport();
    this.armTimer();
  }

  /** Stops every timer; buffered samples stay (flush() takes them). Safe to call twice. */
  stop(): void {
    this.running = false;
    this.batteryReadEarly = false;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.sampleArmed = this.reportArmed = this.batteryArmed = false;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Applies new intervals; timers restart from now so a shorter interval acts at once. */
  setConfig(config: TelemetryConfig): void {
    validateTelemetryConfig(config);
    this.config = { ...config };
    if (!this.running) return;
    this.stop();
    this.running = true;
    this.scheduleSample(config.sampleIntervalMs);
    this.scheduleReport();
    this.armTimer();
  }

  get bufferedSamples(): number {
    return this.pending.length;
  }

  /** One sampling tick: wake hook, battery poll, sensor sample. */
  sampleNow(): void {
    this.tick(true);
  }

  private tick(readBattery: boolean): void {
    this.deps.onWake?.("sample");
    const battery = this.deps.battery;
    if (battery) {
      if (readBattery) battery.poll();
      if (battery.brownout) return; // the brown-out handler owns what happens next
    }
    let s: TelemetrySample;
    try {
      const reading = this.deps.sensors.sample();
      s = sampleAt(this.deps.clock.now(), reading);
    } catch (e) {
      rethrowHalt(e);
      this.deps.log?.("warn", `telemetry: sensor read failed: ${(e as Error).message}`);
      return;
    }
    try {
      checkSample(s); // one bad reading must not spoil the batch it would land in
    } catch (e) {
      this.deps.log?.("warn", `telemetry: sample discarded: ${(e as Error).message}`);
      this.dropped++;
      return;
    }
    const max = this.deps.maxBufferedSamples ?? MAX_BUFFERED_SAMPLES;
    if (this.pending.length >= max) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(s);
  }

  /** Builds, encodes and publishes every buffered sample now; returns the batches sent. */
  reportNow(): number {
    // All batches are built before the first is published (each takes its sequence number and
    // link state then). The two lists are this reporter's, reused: a fresh list, and a pair per
    // batch, were most of what a report allocated. They are taken while in use, so a publish
    // that reports again, or a report that throws, costs new lists and nothing else.
    const bytesList = this.outBytes ?? [];
    const batchList = this.outBatches ?? [];
    this.outBytes = this.outBatches = undefined;
    const count = this.drain(bytesList, batchList);
    // Indexed, not for-of: on XS that runs an iterator per report.
    for (let i = 0; i < count; i++) {
      const bytes = bytesList[i]!;
      const batch = batchList[i]!;
      bytesList[i] = batchList[i] = undefined; // the lists outlive the report, the batch need not
      try {
        this.deps.publish(bytes, batch);
        this.batchesSent++;
      } catch (e) {
        rethrowHalt(e);
        this.lostBatches++;
        this.deps.log?.("error", `telemetry: publish failed: ${(e as Error).message}`);
      }
    }
    this.outBytes = bytesList;
    this.outBatches = batchList;
    return count;
  }

  /**
   * Encodes everything buffered into batches without publishing (for the brown-out path:
   * the agent writes them to the offline queue before power goes).
   */
  flush(): Uint8Array[] {
    const bytesList: Uint8Array[] = [];
    this.drain(bytesList, []);
    return bytesList;
  }

  /**
   * Packs the buffer into batches, written to the two lists from index 0 (index for index;
   * what lies beyond the count returned is stale). Returns how many batches it made.
   */
  private drain(bytesList: (Uint8Array | undefined)[], batchList: (TelemetryBatch | undefined)[]): number {
    const maxBytes = this.deps.maxBytes ?? TELEMETRY_MAX_BYTES;
    let made = 0;
    // Always send at least one batch per report (battery and link state, even with no samples).
    let first = true;
    while (first || this.pending.length > 0) {
      first = false;
      const batch = this.buildBatch(this.pending);
      let n = batch.samples.length;
      let bytes: Uint8Array | undefined;
      try {
        // The common case — everything fits — costs one encode; only a backlog is sized.
        bytes = encodeTelemetryBatch(batch, maxBytes);
      } catch (e) {
        if (!(e instanceof TelemetryError) || e.code !== "too-large") {
          // Samples are checked on arrival, so this is a bad header (identity): never wedge the loop.
          this.deps.log?.("error", `telemetry: ${(e as Error).message}; ${this.pending.length} samples discarded`);
          this.dropped += this.pending.length;
          this.pending = [];
          continue;
        }
        n = Math.max(1, fitSamples(batch, maxBytes)); // ≥ 1: never loop forever on a tiny limit
        batch.samples = batch.samples.slice(0, n);
        try {
          bytes = encodeTelemetryBatch(batch, maxBytes);
        } catch (e2) {
          this.deps.log?.("error", `telemetry: ${(e2 as Error).message}`);
          this.dropped += n;
          dropFront(this.pending, n);
          continue;
        }
      }
      dropFront(this.pending, n);
      this.dropped = 0;
      bytesList[made] = bytes;
      batchList[made] = batch;
      made++;
    }
    return made;
  }

  private buildBatch(samples: Pending[]): TelemetryBatch {
    const { clock, wallClock, identity } = this.deps;
    const up = clock.now();
    const wall = wallClock.now();
    // Once synced, every time in the batch is wall time: the sample's uptime offset from
    // now, applied to the wall clock now (exact, integer).
    const copies = new Array<TelemetrySample>(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      copies[i] = sampleAt(wall === undefined ? s.tMs : wall - (up - s.tMs), s);
    }
    const batch: TelemetryBatch = {
      deviceId: identity.deviceId,
      seq: this.deps.nextSeq(),
      firmware: identity.firmware,
      slot: identity.slot,
      resetReason: identity.resetReason,
      timeBase: wall === undefined ? "uptime" : "wall",
      madeAtMs: wall === undefined ? up : wall,
      uptimeMs: up,
      samples: copies,
    };
    if (this.dropped > 0) batch.samplesDropped = this.dropped;
    // The interval the next report is armed with (onReportTimer re-arms after this batch with the
    // same value): the backend judges silence by it, so a stretch while low is no false "offline".
    batch.reportIntervalSec = announcedIntervalSec(this.effectiveReportIntervalMs());
    const link = this.deps.linkStats?.();
    if (link) batch.link = link;
    const bat = this.deps.battery?.report();
    if (bat) batch.battery = bat;
    const mem = this.deps.memory?.sample();
    if (mem) batch.memory = mem;
    return batch;
  }

  private scheduleSample(delayMs: number): void {
    this.sampleArmed = true;
    this.sampleDueAt = this.deps.clock.now() + delayMs;
    this.sampleOrder = ++this.scheduled;
    this.scheduleBatteryReads(delayMs);
  }

  /**
   * Battery reads of their own until the tick just scheduled `spanMs` from now: as many equal
   * parts as keep every gap within maxBatteryReadIntervalMs, integer ms. Sampling at or below
   * that maximum (the 60 s default) arms none: no extra wake, the timer exactly as before.
   */
  private scheduleBatteryReads(spanMs: number): void {
    this.batteryArmed = false;
    const battery = this.deps.battery;
    if (!battery) return;
    const max = battery.config.maxBatteryReadIntervalMs;
    const slots = Math.floor((spanMs + max - 1) / max);
    if (slots <= 1) return;
    this.batteryFrom = this.deps.clock.now();
    this.batterySpan = spanMs;
    this.batterySlots = slots;
    this.batterySlot = 0;
    this.nextBatteryRead();
  }

  /** Moves on to the next battery read between ticks, or disarms after the last. */
  private nextBatteryRead(): void {
    this.batterySlot++;
    this.batteryArmed = this.batterySlot < this.batterySlots;
    if (this.batteryArmed) this.batteryDueAt = this.batteryFrom + Math.floor((this.batterySpan * this.batterySlot) / this.batterySlots);
  }

  private scheduleReport(): void {
    this.reportArmed = true;
    this.reportDueAt = this.deps.clock.now() + this.effectiveReportIntervalMs();
    this.reportOrder = ++this.scheduled;
  }

  /** Sets the one timer for the earliest of the three, unless it is already set for then. */
  private armTimer(): void {
    let at = Infinity;
    if (this.sampleArmed) at = this.sampleDueAt;
    if (this.reportArmed && this.reportDueAt < at) at = this.reportDueAt;
    if (this.batteryArmed && this.batteryDueAt < at) at = this.batteryDueAt;
    if (at === Infinity) return;
    const clock = this.deps.clock;
    if (this.timer !== undefined) {
      if (this.timerAt === at) return;
      clock.clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = clock.setTimeout(this.onTimer, Math.max(0, at - clock.now()));
  }

  // Bound once (not a closure per tick): it fires for the device's whole life.
  private readonly onTimer = (): void => {
    this.timer = undefined;
    const now = this.deps.clock.now();
    // Everything due now, earliest first, ties in scheduling order; each reschedules itself later.
    while (this.running) {
      const sampleDue = this.sampleArmed && this.sampleDueAt <= now;
      const reportDue = this.reportArmed && this.reportDueAt <= now;
      // A battery read of its own runs only when strictly first: a report due at its instant takes
      // it before its TX (runReport), and a tick reads anyway.
      if (
        this.batteryArmed &&
        this.batteryDueAt <= now &&
        (!sampleDue || this.batteryDueAt < this.sampleDueAt) &&
        (!reportDue || this.batteryDueAt < this.reportDueAt)
      ) {
        this.runBatteryRead();
        continue;
      }
      if (!sampleDue && !reportDue) break;
      const reportFirst =
        reportDue && (!sampleDue || this.reportDueAt < this.sampleDueAt || (this.reportDueAt === this.sampleDueAt && this.reportOrder < this.sampleOrder));
      if (reportFirst) this.runReport();
      else this.runSample();
    }
    if (this.running) this.armTimer();
  };

  private runSample(): void {
    this.sampleArmed = false;
    const readBattery = !this.batteryReadEarly;
    this.batteryReadEarly = false;
    this.tick(readBattery);
    if (this.running) this.scheduleSample(this.config.sampleIntervalMs);
  }

  /** A wake only to read the battery (maxBatteryReadIntervalMs): no sensor sample, no report. */
  private runBatteryRead(): void {
    this.nextBatteryRead();
    this.batteryWakes++;
    this.deps.onWake?.("battery");
    this.deps.battery!.poll(); // a brown-out here stops us through its handler
  }

  private runReport(): void {
    this.reportArmed = false;
    // Measure, then transmit. A sampling tick, or a battery read of its own, due now (at one
    // instant the one scheduled first runs first, which puts the report first) or within the
    // report's TX window would read the battery in the radio's voltage dip: take that reading now,
    // before the report goes out (a tick's sensor sample stays on schedule, in the next batch).
    const battery = this.deps.battery;
    if (battery) {
      const now = this.deps.clock.now();
      const forTick = this.sampleArmed && !this.batteryReadEarly && this.sampleDueAt - now <= REPORT_TX_GUARD_MS;
      const forRead = this.batteryArmed && this.batteryDueAt - now <= REPORT_TX_GUARD_MS;
      if (forTick || forRead) {
        if (forTick) this.batteryReadEarly = true;
        if (forRead) this.nextBatteryRead();
        battery.poll();
        if (!this.running) return; // brown-out at that reading: its handler stopped us
      }
    }
    try {
      this.reportNow();
    } catch (e) {
      rethrowHalt(e);
      // E.g. the sequence number could not be reserved: the samples stay buffered for the next report.
      this.deps.log?.("error", `telemetry: report failed, retrying next interval: ${(e as Error).message}`);
    }
    if (this.running) this.scheduleReport();
  }
}

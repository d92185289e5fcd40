/**
 * Battery monitoring as plain data + a transition function (batteryStep), plus a small
 * class (BatteryMonitor) that reads the BatteryAdc port and hands out events and policy.
 *
 * Why each piece exists:
 * - a median of the last few readings, so one radio-TX voltage dip raises no alarm, then
 *   an exponential average (fixed point) so ADC noise (ESP32 ADCs are noisy) cannot flap an
 *   alarm on the flat middle of the LiPo curve, where 5 % is only ~15 mV;
 * - enter/exit thresholds (hysteresis), so a level crossing fires once, not on every wobble;
 * - a discharge rate measured only across discharging stretches (charging resets it);
 * - brown-out stops the agent cleanly before the hardware brown-out detector does it rudely.
 * Integer arithmetic only: the events reach traces compared between XS and Node.
 */
import type { BatteryAdc, Clock } from "../../ports";
import { intervalProblem } from "../config/intervals";
import { BATTERY_STATUS, type BatteryAlarm, type BatteryReport, type BatteryStatusCode } from "../telemetry/record";
import {
  BatteryInputError,
  DEFAULT_LIPO_CURVE,
  adcToMillivolts,
  millivoltsAtSocBp,
  socBpFromMillivolts,
  validateCurve,
  type DischargeCurve,
} from "./soc";

export interface BatteryConfig {
  curve: DischargeCurve;
  /** Alarm "low" when SoC ≤ lowEnterPct; cleared when SoC ≥ lowExitPct (and see hysteresisMv). */
  lowEnterPct: number;
  lowExitPct: number;
  criticalEnterPct: number;
  criticalExitPct: number;
  /**
   * Leaving a level also needs the voltage this far above the level's entry voltage: on the
   * flat middle of a LiPo curve a few % are only ~10 mV, less than smoothed ADC noise.
   */
  hysteresisMv: number;
  /** Smoothed mV at or below which the agent saves state and stops (above the chip's BOD). */
  brownoutMv: number;
  /**
   * A drain at least this fast (the measured drop rate, % per hour) is projected forward for
   * brown-out (see fastBrownout); slower ones wait for the smoothed voltage. 0 turns it off.
   */
  fastDrainPctPerHour: number;
  /** Above this the cell is overcharged or the divider is broken: LwM2M "damaged". */
  damagedAboveMv: number;
  /** Below this nothing is connected (floating ADC input): LwM2M "not installed". */
  absentBelowMv: number;
  /** Readings in the median window (odd). */
  medianWindow: number;
  /** The average moves 1/2^emaShift of the way to each new median (3 → 1/8)… */
  emaShift: number;
  /**
   * …once per emaStepMs elapsed since the previous reading (rounded, at least once, at most
   * EMA_MAX_STEPS): smoothing defined in time, so a long sampling interval does not stretch its
   * lag. At the default 60 s sampling that is one step per reading, as before.
   */
  emaStepMs: number;
  /** Readings needed before alarms or brown-out are judged (a burst at boot fills it). */
  minReadings: number;
  /** The rate estimate spans up to this much discharging time… */
  rateWindowMs: number;
  /** …and needs at least this much before it is reported. */
  rateMinMs: number;
  /** Report-interval multipliers while low / critical, and the cap. */
  lowReportFactor: number;
  criticalReportFactor: number;
  maxReportIntervalMs: number;
  /** OTA needs at least this SoC unless charging or on external power. */
  otaMinPct: number;
  /**
   * While the radio is busy (deferReadsWhile), reads are skipped for at most this long, then one
   * is taken anyway and the wait starts again: a very long download must not hide a dying cell.
   */
  maxReadDeferMs: number;
  /**
   * The reporter reads the battery at least this often, whatever the sampling interval: with
   * 10-min sampling the median of 5 lagged two readings (20 min) behind a fast drain, and the
   * low alarm came ~21 min after the true 20 % crossing. At or below this interval nothing
   * changes (no wake of its own). Bounds: config/intervals.ts.
   */
  maxBatteryReadIntervalMs: number;
}

export const DEFAULT_BATTERY_CONFIG: BatteryConfig = {
  curve: DEFAULT_LIPO_CURVE,
  lowEnterPct: 20,
  lowExitPct: 25,
  criticalEnterPct: 10,
  criticalExitPct: 13,
  hysteresisMv: 30,
  brownoutMv: 3450,
  fastDrainPctPerHour: 5,
  damagedAboveMv: 4400,
  absentBelowMv: 1000,
  medianWindow: 5,
  emaShift: 3,
  emaStepMs: 60_000,
  minReadings: 3,
  rateWindowMs: 12 * 3600_000,
  rateMinMs: 3600_000,
  lowReportFactor: 4,
  criticalReportFactor: 16,
  maxReportIntervalMs: 6 * 3600_000,
  otaMinPct: 30,
  maxReadDeferMs: 10 * 60_000,
  maxBatteryReadIntervalMs: 60_000,
};

export type ChargerState = "charging" | "full" | "discharging" | "absent" | undefined;

/** One ADC observation; `mv` undefined when the read failed. */
export interface BatteryReading {
  t: number;
  mv: number | undefined;
  charger: ChargerState;
}

interface Checkpoint {
  t: number;
  bp: number;
}

export interface BatteryState {
  readings: number[];
  /** When the last good reading was taken (clock ms), once any exists. */
  readAt: number | undefined;
  /** The smoothed voltage ×16 (fixed point), once any reading exists: weighted by elapsed time. */
  ema16: number | undefined;
  /**
   * The same median averaged 1/8 per reading (×16), as ema16 was before emaStepMs: the discharge
   * rate, the brown-out voltage and the fast brown-out projection are judged on it (its lower noise).
   */
  trend16: number | undefined;
  /** The smoothed voltage (mV): round(ema16 / 16). */
  mv: number | undefined;
  socBp: number;
  status: BatteryStatusCode;
  alarm: BatteryAlarm;
  brownout: boolean;
  charger: ChargerState;
  readFailures: number;
  /** Discharge checkpoints, oldest first, spaced ≥ rateWindowMs/8 apart. */
  checkpoints: Checkpoint[];
  dropBpPerHour: number | undefined;
}

export type BatteryEvent =
  | { type: "alarm"; alarm: BatteryAlarm; pct: number; mv: number }
  | { type: "status"; status: BatteryStatusCode }
  | { type: "brownout"; mv: number };

export function initialBatteryState(): BatteryState {
  return {
    readings: [],
    readAt: undefined,
    ema16: undefined,
    trend16: undefined,
    mv: undefined,
    socBp: 0,
    status: BATTERY_STATUS.unknown,
    alarm: "none",
    brownout: false,
    charger: undefined,
    readFailures: 0,
    checkpoints: [],
    dropBpPerHour: undefined,
  };
}

/**
 * The lower median (the element at index (n−1)>>1 of the sorted readings), found by counting
 * instead of sorting a copy: the window is a few readings and this runs at every poll, so no
 * allocation. Readings are integer mV.
 */
export function median(xs: number[]): number {
  const k = (xs.length - 1) >> 1;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    let less = 0;
    let equal = 0;
    for (let j = 0; j < xs.length; j++) {
      if (xs[j] < x) less++;
      else if (xs[j] === x) equal++;
    }
    if (less <= k && k < less + equal) return x;
  }
  return xs[k]; // unreachable for numbers: some reading holds rank k
}

/**
 * EMA steps one reading can take. Past ~32 the average sits within 2 % of the median
 * ((7/8)^32); the cap only bounds the loop after a long gap (a deferred read, a clock jump).
 */
export const EMA_MAX_STEPS = 32;

/** EMA steps for a reading `dtMs` after the previous one: one per emaStepMs, rounded, 1..EMA_MAX_STEPS. */
export function emaSteps(dtMs: number, c: BatteryConfig): number {
  const k = Math.floor((dtMs + (c.emaStepMs >> 1)) / c.emaStepMs);
  return k < 1 ? 1 : k > EMA_MAX_STEPS ? EMA_MAX_STEPS : k;
}

const ALARM_RANK: Record<BatteryAlarm, number> = { none: 0, low: 1, critical: 2 };

/** The alarm after hysteresis: each level is entered at ≤ enter and left at ≥ exit. */
function nextAlarm(cur: BatteryAlarm, pct: number, mv: number, c: BatteryConfig): BatteryAlarm {
  let a = cur;
  const clear = (exitPct: number, enterPct: number) =>
    pct >= exitPct && mv >= millivoltsAtSocBp(enterPct * 100, c.curve) + c.hysteresisMv;
  if (a === "critical" && clear(c.criticalExitPct, c.criticalEnterPct)) a = "low";
  if (a === "low" && clear(c.lowExitPct, c.lowEnterPct)) a = "none";
  if (a === "none" && pct <= c.lowEnterPct) a = "low";
  if (a === "low" && pct <= c.criticalEnterPct) a = "critical";
  return a;
}

function statusOf(s: BatteryState, c: BatteryConfig): BatteryStatusCode {
  if (s.mv === undefined) return BATTERY_STATUS.unknown;
  if (s.charger === "absent" || s.mv < c.absentBelowMv) return BATTERY_STATUS.notInstalled;
  if (s.mv > c.damagedAboveMv) return BATTERY_STATUS.damaged;
  if (s.charger === "charging") return BATTERY_STATUS.charging;
  if (s.charger === "full") return BATTERY_STATUS.chargeComplete;
  return s.alarm === "none" ? BATTERY_STATUS.normal : BATTERY_STATUS.low;
}

function isDischarging(s: BatteryState): boolean {
  return s.charger !== "charging" && s.charger !== "full" && s.charger !== "absent";
}

/** SoC rise (bp) beyond which we assume a charge or a new cell and restart the rate. */
const RATE_RESET_RISE_BP = 200;

/** `bp`: the trend's SoC (per-reading average), so the rate and time to empty keep its low noise. */
function updateRate(s: BatteryState, c: BatteryConfig, t: number, bp: number): void {
  const cps = s.checkpoints;
  const last = cps[cps.length - 1];
  if (!isDischarging(s) || (last !== undefined && bp > last.bp + RATE_RESET_RISE_BP)) {
    cps.length = 0;
    s.dropBpPerHour = undefined;
    if (!isDischarging(s)) return;
  }
  const spacing = Math.floor(c.rateWindowMs / 8);
  if (cps.length === 0 || t - cps[cps.length - 1].t >= spacing) {
    cps.push({ t, bp });
    while (cps.length > 2 && t - cps[1].t >= c.rateWindowMs) cps.shift();
  }
  const first = cps[0];
  const span = t - first.t;
  if (span >= c.rateMinMs) {
    // Least-squares slope over the checkpoints plus now, in integers (x in minutes since the
    // first checkpoint, y in bp): far less sensitive to one noisy reading than two endpoints.
    // Indexed, no helper closure: this runs at every sampling tick, and a closure over the five
    // sums was an allocation per tick (an iterator too, on XS). The point "now" comes last.
    let n = 0, sx = 0, sy = 0, sxy = 0, sxx = 0;
    const points = t !== cps[cps.length - 1].t ? cps.length + 1 : cps.length;
    for (let i = 0; i < points; i++) {
      const now = i === cps.length;
      const x = now ? Math.floor(span / 60_000) : Math.floor((cps[i].t - first.t) / 60_000);
      const y = now ? bp : cps[i].bp;
      n++;
      sx += x;
      sy += y;
      sxy += x * y;
      sxx += x * x;
    }
    const den = n * sxx - sx * sx;
    const num = sx * sy - n * sxy; // −(slope numerator): positive while discharging
    s.dropBpPerHour = den > 0 && num > 0 ? Math.floor((num * 60) / den) : 0;
  }
}

/**
 * The transition function: folds one reading into the state and returns the events it
 * caused. Pure apart from mutating the state it is given (callers own it).
 */
export function batteryStep(s: BatteryState, c: BatteryConfig, r: BatteryReading): BatteryEvent[] {
  const events: BatteryEvent[] = [];
  if (s.brownout) return events; // terminal until reboot
  const oldStatus = s.status;
  const oldSocBp = s.socBp;
  let fast = false;
  s.charger = r.charger;
  if (r.mv === undefined) {
    s.readFailures++;
  } else {
    // The drop of the trend over this read means something only once it is smoothing.
    const wasSmoothing = s.ema16 !== undefined && s.readings.length >= c.medianWindow;
    const oldTrend16 = s.trend16;
    s.readings.push(r.mv);
    if (s.readings.length > c.medianWindow) s.readings.shift();
    const med16 = median(s.readings) * 16;
    // Until the median window is full, follow the median directly: no lag at boot, and a
    // dip in the first reading is outvoted as soon as the priming burst is in.
    if (s.ema16 === undefined || s.readings.length < c.medianWindow) s.ema16 = s.trend16 = med16;
    else {
      // Weight by elapsed time, not per reading: at 10-min sampling a 1/8 step per reading put
      // the low alarm over an hour behind a fast drain (bench: battery-accuracy, fastDrainBrownout).
      const steps = s.readAt === undefined ? 1 : emaSteps(r.t - s.readAt, c);
      for (let i = 0; i < steps; i++) s.ema16 += Math.trunc((med16 - s.ema16) / (1 << c.emaShift));
      s.trend16 = (s.trend16 ?? med16) + Math.trunc((med16 - (s.trend16 ?? med16)) / (1 << c.emaShift));
    }
    s.readAt = r.t;
    s.mv = Math.floor((s.ema16 + 8) / 16);
    s.socBp = socBpFromMillivolts(s.mv, c.curve);
    if (wasSmoothing && oldTrend16 !== undefined) {
      const trendDropBp = trendSocBp(oldTrend16, c) - trendSocBp(s.trend16!, c);
      fast = fastBrownout(c, med16 / 16, trendDropBp, s.dropBpPerHour);
    }
  }
  // A failed read leaves the last good median in place; three in a row make it unknown.
  if (r.mv === undefined && s.readFailures >= 3) {
    s.mv = undefined;
    s.ema16 = s.trend16 = undefined;
    s.readings.length = 0;
    s.readAt = undefined;
  }
  if (r.mv !== undefined) s.readFailures = 0;

  const judged = s.mv !== undefined && s.readings.length >= c.minReadings;
  const present = s.mv !== undefined && s.mv >= c.absentBelowMv && s.charger !== "absent";
  if (judged && present) {
    const pct = Math.floor(s.socBp / 100);
    const next = nextAlarm(s.alarm, pct, s.mv!, c);
    if (ALARM_RANK[next] > ALARM_RANK[s.alarm]) {
      // Report every level crossed, in order, once each.
      if (s.alarm === "none") events.push({ type: "alarm", alarm: "low", pct, mv: s.mv! });
      if (next === "critical") events.push({ type: "alarm", alarm: "critical", pct, mv: s.mv! });
    } else if (next !== s.alarm) {
      events.push({ type: "alarm", alarm: next, pct, mv: s.mv! });
    }
    s.alarm = next;
    updateRate(s, c, r.t, s.trend16 === undefined ? s.socBp : trendSocBp(s.trend16, c));
  }
  s.status = statusOf(s, c);
  if (s.status !== oldStatus) events.push({ type: "status", status: s.status });
  // The brown-out voltage is judged on the per-reading trend, as before emaStepMs (the time-weighted
  // average stopped devices sampled every 15 min earlier, so in test/health/truth their cells no
  // longer went flat inside the run); a fast drain is covered by the projection (fastBrownout).
  const trendMv = s.trend16 === undefined ? s.mv : Math.floor((s.trend16 + 8) / 16);
  if (judged && present && isDischarging(s) && (trendMv! <= c.brownoutMv || fast)) {
    s.brownout = true;
    events.push({ type: "brownout", mv: s.mv! });
  }
  return events;
}

/**
 * The fast brown-out check. The smoothed voltage lags a falling cell by ~8 reads (the 1/8 EMA) and
 * the median of 5 by 2 more: with 10-min sampling that is well over an hour, while a fast drain
 * crosses the last ~1.5 % between brown-out and the chip's own reset in minutes, less than one
 * sampling interval. So: take the median (TX dips stay outvoted), move it on by the trend's
 * SoC drop over the last read (trend16: a 1/8 average per reading, whose slope is right even when
 * its level lags and which carries 1/8 of the noise; the time-weighted ema16 gives a 10-min read
 * most of its weight, so its drop would carry the median's jumps) for 3 reads — the median's
 * 2-read lag plus the next read — and answer true when that reaches brownoutMv's SoC. Only below
 * the critical-entry voltage, so a sustained sag on a healthy cell cannot project it empty.
 * (A rate from the least-squares slope instead was tried: it lags the curve's steepening near
 * empty and missed the save at 10-min sampling.)
 */
function fastBrownout(c: BatteryConfig, medianMv: number, dropBp: number, rateBpPerHour: number | undefined): boolean {
  // Gated on the least-squares rate (hours of checkpoints), not on this read's drop: under
  // ±25 mV ADC noise and TX dips one read's drop looks like several %/h at 1-min sampling.
  if (c.fastDrainPctPerHour === 0 || dropBp <= 0 || rateBpPerHour === undefined) return false;
  if (rateBpPerHour < c.fastDrainPctPerHour * 100) return false;
  if (medianMv > millivoltsAtSocBp(c.criticalEnterPct * 100, c.curve)) return false;
  return socBpFromMillivolts(medianMv, c.curve) - 3 * dropBp <= emptyBp(c);
}

/** The SoC (bp) of a ×16 fixed-point voltage, rounded as the smoothed voltage is. */
function trendSocBp(v16: number, c: BatteryConfig): number {
  return socBpFromMillivolts(Math.floor((v16 + 8) / 16), c.curve);
}

/** SoC (bp) at the brown-out voltage: "empty" for the time-to-empty estimate. */
function emptyBp(c: BatteryConfig): number {
  return socBpFromMillivolts(c.brownoutMv, c.curve);
}

/** The telemetry view of a state. */
export function batteryReport(s: BatteryState, c: BatteryConfig): BatteryReport | undefined {
  if (s.mv === undefined) return undefined;
  const r: BatteryReport = {
    mv: Math.min(s.mv, 65535),
    pct: Math.floor(s.socBp / 100),
    status: s.status,
    alarm: s.alarm,
  };
  if (isDischarging(s) && s.dropBpPerHour !== undefined) {
    r.dropBpPerHour = Math.min(s.dropBpPerHour, 10000);
    if (s.dropBpPerHour > 0) {
      const left = s.socBp - emptyBp(c);
      r.timeToEmptyMin = left > 0 ? Math.floor((left * 60) / s.dropBpPerHour) : 0;
    }
  }
  return r;
}

export type OtaVerdict = { allowed: true } | { allowed: false; reason: "battery-low" | "battery-unknown" | "battery-damaged" | "brownout" };

/** May an OTA start now? Flashing on a weak cell risks a brown-out mid-write. */
export function otaVerdict(s: BatteryState, c: BatteryConfig): OtaVerdict {
  if (s.brownout) return { allowed: false, reason: "brownout" };
  switch (s.status) {
    case BATTERY_STATUS.charging:
    case BATTERY_STATUS.chargeComplete:
    case BATTERY_STATUS.notInstalled: // external power
      return { allowed: true };
    case BATTERY_STATUS.damaged:
      return { allowed: false, reason: "battery-damaged" };
    case BATTERY_STATUS.unknown:
      return { allowed: false, reason: "battery-unknown" };
  }
  if (s.alarm !== "none" || Math.floor(s.socBp / 100) < c.otaMinPct) return { allowed: false, reason: "battery-low" };
  return { allowed: true };
}

/** The longest reporting interval the battery policy may stretch to (the configured maximum, 1 day). */
const MAX_STRETCHED_REPORT_MS = 86_400_000;

/** The reporting interval to use now: stretched while low, more while critical, capped. */
export function reportIntervalFor(baseMs: number, alarm: BatteryAlarm, c: BatteryConfig): number {
  const factor = alarm === "critical" ? c.criticalReportFactor : alarm === "low" ? c.lowReportFactor : 1;
  if (factor === 1) return baseMs;
  return Math.max(baseMs, Math.min(baseMs * factor, c.maxReportIntervalMs));
}

/** Throws BatteryInputError naming the first bad setting (a config error, caught at boot). */
export function validateBatteryConfig(c: BatteryConfig): void {
  validateCurve(c.curve);
  const pct = (n: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 100) throw new BatteryInputError(`${n} must be 0..100, got ${v}`);
  };
  pct("lowEnterPct", c.lowEnterPct);
  pct("lowExitPct", c.lowExitPct);
  pct("criticalEnterPct", c.criticalEnterPct);
  pct("criticalExitPct", c.criticalExitPct);
  pct("otaMinPct", c.otaMinPct);
  if (c.lowExitPct < c.lowEnterPct || c.criticalExitPct < c.criticalEnterPct || c.criticalEnterPct > c.lowEnterPct) {
    throw new BatteryInputError("thresholds must satisfy critical ≤ low and enter ≤ exit");
  }
  const pos = (n: string, v: number, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new BatteryInputError(`${n} must be an integer ≥ ${min}, got ${v}`);
  };
  pos("medianWindow", c.medianWindow);
  if (c.medianWindow % 2 === 0) throw new BatteryInputError("medianWindow must be odd");
  pos("minReadings", c.minReadings);
  pos("emaShift", c.emaShift, 0);
  pos("emaStepMs", c.emaStepMs);
  pos("hysteresisMv", c.hysteresisMv, 0);
  pos("rateWindowMs", c.rateWindowMs, 8);
  pos("rateMinMs", c.rateMinMs);
  pos("lowReportFactor", c.lowReportFactor);
  pos("criticalReportFactor", c.criticalReportFactor);
  pos("maxReportIntervalMs", c.maxReportIntervalMs);
  // A stretched interval arms the report timer and is announced in every batch (1..86400 s).
  if (c.maxReportIntervalMs > MAX_STRETCHED_REPORT_MS) {
    throw new BatteryInputError(`maxReportIntervalMs must be at most ${MAX_STRETCHED_REPORT_MS} (1 day), got ${c.maxReportIntervalMs}`);
  }
  pos("brownoutMv", c.brownoutMv);
  pos("fastDrainPctPerHour", c.fastDrainPctPerHour, 0);
  pos("maxReadDeferMs", c.maxReadDeferMs, 0);
  const p = intervalProblem("maxBatteryReadIntervalMs", c.maxBatteryReadIntervalMs);
  if (p !== undefined) throw new BatteryInputError(p);
}

/**
 * The port-facing monitor. poll() reads the ADC (a throwing or out-of-range read counts as
 * a failed read, never a crash), steps the state, and calls the listeners.
 */
export class BatteryMonitor {
  readonly config: BatteryConfig;
  readonly state: BatteryState = initialBatteryState();
  private listeners: ((e: BatteryEvent) => void)[] = [];
  private brownoutHandlers: ((mv: number) => void)[] = [];
  private radioBusy: (() => boolean) | undefined;
  /** When the present run of skipped reads began (clock ms), if one is running. */
  private deferringSince: number | undefined;
  /** Reads skipped because the radio was busy. */
  deferredReads = 0;

  constructor(
    private readonly ports: { clock: Clock; battery: BatteryAdc },
    config: Partial<BatteryConfig> = {},
  ) {
    this.config = { ...DEFAULT_BATTERY_CONFIG, ...config };
    validateBatteryConfig(this.config);
  }

  /** Every event (alarms, status changes, brown-out). */
  onEvent(fn: (e: BatteryEvent) => void): void {
    this.listeners.push(fn);
  }

  /** Called once when the smoothed voltage reaches brown-out: save state and stop. */
  onBrownout(fn: (mv: number) => void): void {
    this.brownoutHandlers.push(fn);
  }

  /** Takes `count` readings back to back (at boot, so alarms can be judged at once). */
  prime(count = this.config.minReadings): BatteryEvent[] {
    const all: BatteryEvent[] = [];
    for (let i = 0; i < count && !this.state.brownout; i++) all.push(...this.readNow());
    return all;
  }

  /**
   * While `busy()` is true the radio is sending (an OTA download: block wants and PUBACKs back to
   * back; or a packet just written), so a read would see the cell sagging under TX (I·R, tens of
   * mV: several points of SoC, enough to raise a false low alarm and defer the download itself).
   * poll() then keeps the last readings instead, for up to maxReadDeferMs at a time. prime()
   * (boot) always reads.
   */
  deferReadsWhile(busy: () => boolean): void {
    this.radioBusy = busy;
  }

  /** True when this poll should keep the last readings rather than read the cell now. */
  private deferRead(): boolean {
    if (this.radioBusy === undefined || !this.radioBusy()) {
      this.deferringSince = undefined;
      return false;
    }
    const now = this.ports.clock.now();
    if (this.deferringSince === undefined) this.deferringSince = now;
    if (now - this.deferringSince >= this.config.maxReadDeferMs) {
      this.deferringSince = now; // read this once, then wait again
      return false;
    }
    this.deferredReads++;
    return true;
  }

  /** One sampling tick's read (unless the radio is busy: deferReadsWhile). */
  poll(): BatteryEvent[] {
    return this.deferRead() ? [] : this.readNow();
  }

  private readNow(): BatteryEvent[] {
    const adc = this.ports.battery;
    let mv: number | undefined;
    let charger: ChargerState;
    try {
      mv = adcToMillivolts(adc.read(), adc.resolution, adc.fullScaleMv);
    } catch {
      mv = undefined;
    }
    try {
      charger = adc.chargerState ? adc.chargerState() : undefined;
    } catch {
      charger = undefined;
    }
    const events = batteryStep(this.state, this.config, { t: this.ports.clock.now(), mv, charger });
    // Indexed: nearly every read has no event, and for-of would still make an iterator (on XS).
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      for (const fn of this.listeners) fn(e);
      if (e.type === "brownout") for (const fn of this.brownoutHandlers) fn(e.mv);
    }
    return events;
  }

  report(): BatteryReport | undefined {
    return batteryReport(this.state, this.config);
  }

  /** The OTA precondition (issue 5): call before accepting an offer; defer when not allowed. */
  otaAllowed(): OtaVerdict {
    return otaVerdict(this.state, this.config);
  }

  reportIntervalMs(baseMs: number): number {
    return reportIntervalFor(baseMs, this.state.alarm, this.config);
  }

  get brownout(): boolean {
    return this.state.brownout;
  }
}

/**
 * The battery precondition in the shape the OTA updater takes (`OtaOptions.preconditions`):
 * undefined when an update may start, else the reason ("battery-low", …) it is deferred for.
 */
export function batteryOtaPrecondition(monitor: BatteryMonitor): () => string | undefined {
  return () => {
    const v = monitor.otaAllowed();
    return v.allowed ? undefined : v.reason;
  };
}

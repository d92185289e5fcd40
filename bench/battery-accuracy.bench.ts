// How well the agent's battery reading tracks the simulated truth (accuracy figures, not timings:
// every run is deterministic, so the figures are the same on every machine and every round).
// 1. Reported SoC at a constant true charge (a 4,000 mAh cell for 8 h: ~0.3 % drain) through the
//    real Agent, link and MQTT on a virtual device, for several sampling/reporting intervals:
//    the worst error after the first hour and any low alarm (the alarm is at 20 %).
// 3. A fast drain (400 mAh at a constant 60 mA, ≈ 15 %/h, from 40 %) with the chip's own brown-out
//    reset modelled, four monitors interleaved: now (the battery read at least every minute,
//    maxBatteryReadIntervalMs, whatever the sampling interval); reads only at the sampling ticks
//    (before that: the 1/8 average stepped per minute elapsed, emaStepMs, plus the projected
//    brown-out save); that with the average stepped once per reading (before emaStepMs); and that
//    without the projected save (fastDrainPctPerHour 0).
//    `lowLateMin` is how long after the true 20 % crossing the low alarm came.
// 2. Time to empty predicted at mid-life vs the simulated brown-out (the week run of
//    test/battery/week.test.ts) over 150 seeds, with the agent's report stretching while low
//    (×4) and critical (×16), and without it (it makes the end of life last longer than the
//    mid-life rate predicts).
// 4. A flat cell under heavy ADC noise (±25 mV uniform, a −150 mV TX dip every 5th reading, 14 days,
//    20 seeds) at 10-min sampling: the lowest level that never raises an alarm, through batteryStep,
//    read every minute (now), read every 10 min with the average stepped per minute elapsed
//    (before), and once per reading (before emaStepMs).
// 5. Slow drains (1, 2, 3, 5 %/h) at 1 / 3 / 10-min sampling, from 30 %, the chip's reset modelled:
//    samples lost at the cell's end, reads every minute (now) and at the ticks only (before).
// 6. The cost of the reads between ticks at 10-min sampling: wakes per hour and the charge the
//    SimBattery power model draws over a day, with and without them (battery-run: 2 ms at the
//    active current per wake, PowerCosts.batteryWakeMs).
//   npm run bench -- battery-accuracy
import os from "node:os";
import { DEFAULT_BATTERY_CONFIG, batteryStep, initialBatteryState, type BatteryConfig } from "../device/core/battery/monitor";
import { millivoltsAtSocBp } from "../device/core/battery/soc";
import { runBattery, type BatteryRunOptions } from "../host-sim/battery/battery-run";
import { SeededRandom } from "../host-sim/virtual/random";
import { runAtConstantCharge } from "../host-sim/battery/constant-charge";
import { DEFAULT_SIM_BATTERY } from "../host-sim/battery/sim-battery";
import { DEFAULT_POWER_COSTS } from "../host-sim/battery/power";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CHARGES_PERMILLE = [170, 280, 298, 500];
const INTERVALS = [
  { sample: "10m", report: "10m", sampleMs: 600_000, reportMs: 600_000 },
  { sample: "3m", report: "10m", sampleMs: 180_000, reportMs: 600_000 },
  { sample: "15m", report: "1h", sampleMs: 900_000, reportMs: 3_600_000 },
  { sample: "1m", report: "5m", sampleMs: 60_000, reportMs: 300_000 },
];
const SOC_SEEDS = [1, 2, 3];
const TTE_SEEDS = 150;

function tteErrors(stretch: boolean): number[] {
  const errs: number[] = [];
  for (let seed = 1; seed <= TTE_SEEDS; seed++) {
    const r = runBattery({
      seed,
      telemetry: { sampleIntervalMs: 60_000, reportIntervalMs: 300_000 },
      maxMs: 14 * DAY,
      wallSyncAfterMs: 30_000,
      outageEveryMs: DAY,
      outageMaxMs: HOUR,
      reconnect: "backoff",
      monitor: stretch ? undefined : { lowReportFactor: 1, criticalReportFactor: 1 },
    });
    const truth = (r.brownoutAt! - r.midlife!.t) / 60_000;
    errs.push((r.midlife!.timeToEmptyMin! - truth) / truth);
  }
  return errs.sort((a, b) => a - b);
}

const FAST_DRAIN_SEEDS = [1, 2, 3, 4, 5];
const FAST_DRAIN_SAMPLING_MS = [600_000, 180_000, 60_000];
const FAST_DRAIN_ROUNDS = 5; // after one warm-up round; the figures must be the same every round

type FastDrainVariant = "smoothed only" | "per-reading average" | "reads at ticks" | "now";

/** Reads only at the sampling ticks: no read between them (a day is longer than any interval here). */
const READS_AT_TICKS = { maxBatteryReadIntervalMs: 86_400_000 };

function fastDrainCase(seed: number, sampleMs: number, variant: FastDrainVariant) {
  const battery = { capacityMah: 400, capacityVariationPermille: 0, startPermille: 400, sleepUa: 60_000 };
  const telemetry = { sampleIntervalMs: sampleMs, reportIntervalMs: 600_000 };
  // "smoothed only": no projected brown-out save (the monitor before s6-alerts' fix).
  // "per-reading average": the 1/8 average stepped once per reading, whatever the interval (before
  // emaStepMs; one step per day never rounds above 1 at these intervals).
  // "reads at ticks": the battery read only at sampling ticks (before maxBatteryReadIntervalMs).
  const monitor =
    variant === "smoothed only"
      ? { ...READS_AT_TICKS, fastDrainPctPerHour: 0, emaStepMs: 86_400_000 }
      : variant === "per-reading average"
        ? { ...READS_AT_TICKS, emaStepMs: 86_400_000 }
        : variant === "reads at ticks"
          ? READS_AT_TICKS
          : undefined;
  const r = runBattery({ seed, telemetry, maxMs: 4 * HOUR, battery, monitor, chipResetWhenDead: true });
  // The true drain rate, from the first hour (no alarm, no report stretching yet).
  const probe = runBattery({ seed, telemetry, maxMs: HOUR, battery, monitor });
  const permillePerMin = (400 - probe.chargePermilleAtEnd) / (probe.endMs / 60_000);
  const trueLowMin = (400 - 200) / permillePerMin;
  const low = r.alarms.find((a) => a.alarm === "low");
  return {
    lowLateMin: low ? Math.round(low.t / 60_000 - trueLowMin) : null,
    brownoutSaved: r.brownoutAt !== undefined,
    chipResetFirst: r.chipResetAt !== undefined,
    samplesLost: r.samplesLostAtReset,
    samplesSaved: r.samplesInSaved,
    chargeLeftAtSavePermille: r.chargePermilleAtBrownout ?? null,
    marginBeforeEmptyMin: r.chargePermilleAtBrownout === undefined ? null : Math.round(r.chargePermilleAtBrownout / permillePerMin),
    batteryWakesPerHour: Math.round((r.batteryWakes * HOUR) / r.endMs),
  };
}

const FAST_DRAIN_LABELS: Record<FastDrainVariant, string> = {
  now: "read every minute (now)",
  "reads at ticks": "reads at ticks only, time-weighted average + projected save (before)",
  "per-reading average": "reads at ticks, per-reading average + projected save (before emaStepMs)",
  "smoothed only": "reads at ticks, smoothed only, per-reading average (before both)",
};

function fastDrain(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let first: string | undefined;
  for (let round = 0; round <= FAST_DRAIN_ROUNDS; round++) {
    const figures: Record<string, unknown> = {};
    for (const sampleMs of FAST_DRAIN_SAMPLING_MS) {
      for (const variant of ["smoothed only", "per-reading average", "reads at ticks", "now"] as const) {
        const rows = FAST_DRAIN_SEEDS.map((seed) => fastDrainCase(seed, sampleMs, variant));
        figures[`sample ${sampleMs / 60_000}m, ${FAST_DRAIN_LABELS[variant]}`] = rows;
      }
    }
    const json = JSON.stringify(figures);
    if (round === 0) continue; // warm-up
    if (first === undefined) first = json;
    else if (json !== first) throw new Error(`fast-drain round ${round} differs from round 1: the runs are not deterministic`);
    Object.assign(out, figures);
  }
  return { rounds: FAST_DRAIN_ROUNDS, roundsIdentical: true, perSeed: out };
}

const FLAT_SEEDS = 20;
const FLAT_DAYS = 14;
const FLAT_SAMPLE_MS = 600_000;

/** True when a flat cell at `mv` raised an alarm or a brown-out on any seed, read every `readMs`. */
function flatAlarms(mv: number, c: BatteryConfig, readMs: number): boolean {
  for (let seed = 1; seed <= FLAT_SEEDS; seed++) {
    const rnd = new SeededRandom(seed);
    const s = initialBatteryState();
    for (let i = 0; i < (FLAT_DAYS * DAY) / readMs; i++) {
      // A quiet boot burst, then the noise (the boot's own median is not what is measured here).
      const read = i < c.medianWindow ? mv : mv + rnd.below(51) - 25 - (i % 5 === 0 ? 150 : 0);
      for (const e of batteryStep(s, c, { t: i * readMs, mv: read, charger: "discharging" })) {
        if (e.type === "alarm" || e.type === "brownout") return true;
      }
    }
  }
  return false;
}

function flatCellNoise(): Record<string, unknown> {
  // At 10-min sampling the reporter now reads every maxBatteryReadIntervalMs (60 s).
  const variants: Record<string, [BatteryConfig, number]> = {
    "read every minute (now)": [DEFAULT_BATTERY_CONFIG, DEFAULT_BATTERY_CONFIG.maxBatteryReadIntervalMs],
    "read at the 10-min ticks, time-weighted average (before)": [DEFAULT_BATTERY_CONFIG, FLAT_SAMPLE_MS],
    "read at the 10-min ticks, per-reading average (before emaStepMs)": [{ ...DEFAULT_BATTERY_CONFIG, emaStepMs: 86_400_000 }, FLAT_SAMPLE_MS],
  };
  const out: Record<string, number> = {};
  for (const [name, [c, readMs]] of Object.entries(variants)) {
    let lowest = 3800;
    while (!flatAlarms(lowest - 1, c, readMs)) lowest--;
    out[name] = lowest;
  }
  // SoC is floored to whole %: the alarm enters below the voltage of lowEnterPct + 1.
  const entersAtOrBelow = millivoltsAtSocBp((DEFAULT_BATTERY_CONFIG.lowEnterPct + 1) * 100) - 1;
  return { lowAlarmAtSmoothedMvOrBelow: entersAtOrBelow, lowestAlarmFreeFlatMv: out };
}

const SLOW_DRAIN_PCT_PER_HOUR = [1, 2, 3, 5];
const SLOW_DRAIN_SAMPLING_MS = [60_000, 180_000, 600_000];
const SLOW_DRAIN_SEEDS = [1, 2, 3];
const SLOW_START_PERMILLE = 300;

/**
 * One slow drain: a 400 mAh cell whose sleep current is set for about `pctPerHour` (1 %/h of
 * 400 mAh = 4 mA; sampling and TX add a little), from 30 %, until the firmware's save or the
 * chip's own reset. The true rate is measured from the run itself.
 */
function slowDrainCase(seed: number, pctPerHour: number, sampleMs: number, readsAtTicks: boolean) {
  const battery = { capacityMah: 400, capacityVariationPermille: 0, startPermille: SLOW_START_PERMILLE, sleepUa: 4_000 * pctPerHour };
  const o: BatteryRunOptions = {
    seed,
    telemetry: { sampleIntervalMs: sampleMs, reportIntervalMs: 600_000 },
    maxMs: Math.ceil((SLOW_START_PERMILLE / 10 / pctPerHour) * 1.5) * HOUR,
    battery,
    monitor: readsAtTicks ? READS_AT_TICKS : undefined,
    chipResetWhenDead: true,
  };
  const r = runBattery(o);
  const end = r.brownoutAt ?? r.chipResetAt ?? r.endMs;
  const probe = runBattery({ ...o, maxMs: HOUR, chipResetWhenDead: false });
  const permillePerHour = SLOW_START_PERMILLE - probe.chargePermilleAtEnd;
  return {
    truePctPerHour: Math.round(permillePerHour) / 10,
    saved: r.brownoutAt !== undefined,
    samplesLost: r.samplesLostAtReset,
    samplesSaved: r.samplesInSaved,
    chargeLeftAtSavePermille: r.chargePermilleAtBrownout ?? null,
    endedAtH: Math.round((end / HOUR) * 10) / 10,
  };
}

function slowDrain(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pct of SLOW_DRAIN_PCT_PER_HOUR) {
    for (const sampleMs of SLOW_DRAIN_SAMPLING_MS) {
      for (const ticks of [true, false]) {
        const rows = SLOW_DRAIN_SEEDS.map((seed) => slowDrainCase(seed, pct, sampleMs, ticks));
        out[`${pct} %/h, sample ${sampleMs / 60_000}m, ${ticks ? "reads at ticks only (before)" : "read every minute (now)"}`] = {
          lost: rows.map((x) => x.samplesLost),
          saved: rows.map((x) => x.saved),
          chargeLeftAtSavePermille: rows.map((x) => x.chargeLeftAtSavePermille),
          truePctPerHour: rows.map((x) => x.truePctPerHour),
          endedAtH: rows.map((x) => x.endedAtH),
        };
      }
    }
  }
  return out;
}

/** Reads between ticks at 10-min sampling: wakes per hour and the charge they cost the modelled cell. */
function wakeCost(): Record<string, unknown> {
  const base: BatteryRunOptions = { seed: 1, telemetry: { sampleIntervalMs: 600_000, reportIntervalMs: 600_000 }, maxMs: DAY, battery: { capacityVariationPermille: 0 } };
  const now = runBattery(base);
  const before = runBattery({ ...base, monitor: READS_AT_TICKS });
  const mAsPerHour = (uaMs: number) => Math.round((uaMs / 1e6 / 24) * 100) / 100; // µA·ms over a day → mA·s per hour
  const extra = now.drawnUaMs - before.drawnUaMs;
  return {
    sampling: "10m",
    report: "10m",
    hours: 24,
    batteryWakesPerHour: now.batteryWakes / 24,
    // Above the sleep current: the CPU's active current for PowerCosts.batteryWakeMs.
    chargePerWakeMicroAmpMs: (DEFAULT_SIM_BATTERY.activeUa - DEFAULT_SIM_BATTERY.sleepUa) * DEFAULT_POWER_COSTS.batteryWakeMs,
    drawnMilliAmpSecondsPerHour: { now: mAsPerHour(now.drawnUaMs), before: mAsPerHour(before.drawnUaMs) },
    extraMilliAmpSecondsPerHour: mAsPerHour(extra),
    extraPermilleOfDrawn: Math.round((extra * 10000) / before.drawnUaMs) / 10,
    brownoutOrEnd: { now: now.brownoutAt ?? now.endMs, before: before.brownoutAt ?? before.endMs },
  };
}

const pct1 = (x: number) => Math.round(x * 1000) / 10;
const quantile = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

export default async function () {
  const soc: Record<string, unknown> = {};
  for (const iv of INTERVALS) {
    for (const permille of CHARGES_PERMILLE) {
      let worst = 0;
      let mean = 0;
      let n = 0;
      const alarms = new Set<string>();
      for (const seed of SOC_SEEDS) {
        const r = runAtConstantCharge({ seed, startPermille: permille, sampleIntervalMs: iv.sampleMs, reportIntervalMs: iv.reportMs, hours: 8 });
        for (const e of r.errors) {
          if (Math.abs(e) > Math.abs(worst)) worst = e;
          mean += e;
          n++;
        }
        for (const a of r.alarms) alarms.add(a);
      }
      soc[`sample ${iv.sample} / report ${iv.report}, true ${permille / 10} %`] = {
        reports: n,
        meanErrorPoints: Math.round((mean / n) * 10) / 10,
        worstErrorPoints: Math.round(worst * 10) / 10,
        alarms: [...alarms].join(" ") || "none",
      };
    }
  }
  const tte: Record<string, unknown> = {};
  for (const stretch of [true, false]) {
    const e = tteErrors(stretch);
    tte[stretch ? "with report stretching (the agent's policy)" : "without report stretching"] = {
      seeds: e.length,
      p5Pct: pct1(quantile(e, 0.05)),
      medianPct: pct1(quantile(e, 0.5)),
      p95Pct: pct1(quantile(e, 0.95)),
      worstAbsPct: pct1(Math.max(...e.map(Math.abs))),
    };
  }
  const fast = fastDrain();
  const flat = flatCellNoise();
  const slow = slowDrain();
  const wakes = wakeCost();
  return {
    parameters: {
      constantCharge: { capacityMah: 4000, hours: 8, scoredAfterHours: 1, seeds: SOC_SEEDS, chargesPermille: CHARGES_PERMILLE, lowAlarmPct: 20 },
      timeToEmpty: { seeds: `1..${TTE_SEEDS}`, sampleInterval: "1m", reportInterval: "5m", outageEvery: "1d", outageMax: "1h", reconnect: "backoff", days: 14 },
      fastDrain: { capacityMah: 400, startPermille: 400, constantMa: 60, seeds: FAST_DRAIN_SEEDS, samplingMs: FAST_DRAIN_SAMPLING_MS, reportInterval: "10m", chipResetBelowMv: 3300, warmupRounds: 1, rounds: FAST_DRAIN_ROUNDS },
      flatCell: { seeds: `1..${FLAT_SEEDS}`, days: FLAT_DAYS, sampleMs: FLAT_SAMPLE_MS, noiseMv: "±25 uniform", txDipMv: -150, dipEvery: 5 },
      slowDrain: { capacityMah: 400, startPermille: SLOW_START_PERMILLE, sleepUaPerPctPerHour: 4_000, pctPerHour: SLOW_DRAIN_PCT_PER_HOUR, samplingMs: SLOW_DRAIN_SAMPLING_MS, reportInterval: "10m", seeds: SLOW_DRAIN_SEEDS, chipResetBelowMv: 3300 },
      wakeCost: { capacityMah: 400, sampleInterval: "10m", reportInterval: "10m", hours: 24, batteryWakeMs: DEFAULT_POWER_COSTS.batteryWakeMs, activeUa: DEFAULT_SIM_BATTERY.activeUa, sleepUa: DEFAULT_SIM_BATTERY.sleepUa },
      note: "deterministic figures (counts and errors from seeded runs), not timings",
    },
    machine: { cpus: os.cpus().length, node: process.version },
    reportedSocVsTruth: soc,
    timeToEmptyAtMidlifeVsTruth: tte,
    fastDrainBrownout: fast,
    flatCellNoiseAt10MinSampling: flat,
    slowDrainSamplesLost: slow,
    batteryReadWakeCost: wakes,
  };
}

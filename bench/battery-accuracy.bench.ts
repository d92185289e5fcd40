// How well the agent's battery reading tracks the simulated truth (accuracy figures, not timings:
// every run is deterministic, so the figures are the same on every machine and every round).
// 1. Reported SoC at a constant true charge (a 4,000 mAh cell for 8 h: ~0.3 % drain) through the
//    real Agent, link and MQTT on a virtual device, for several sampling/reporting intervals:
//    the worst error after the first hour and any low alarm (the alarm is at 20 %).
// 3. A fast drain (400 mAh at a constant 60 mA, ≈ 15 %/h, from 40 %) with the chip's own brown-out
//    reset modelled, three monitors interleaved: now (the 1/8 average stepped per minute elapsed,
//    emaStepMs, plus the projected brown-out save); the same with the average stepped once per
//    reading (before emaStepMs); and that without the projected save (fastDrainPctPerHour 0).
//    `lowLateMin` is how long after the true 20 % crossing the low alarm came.
// 2. Time to empty predicted at mid-life vs the simulated brown-out (the week run of
//    test/battery/week.test.ts) over 150 seeds, with the agent's report stretching while low
//    (×4) and critical (×16), and without it (it makes the end of life last longer than the
//    mid-life rate predicts).
// 4. A flat cell under heavy ADC noise (±25 mV uniform, a −150 mV TX dip every 5th reading, 14 days,
//    20 seeds) read every 10 min: the lowest level that never raises an alarm, for the average
//    stepped per minute elapsed (now) and once per reading (before), through batteryStep.
//   npm run bench -- battery-accuracy
import os from "node:os";
import { DEFAULT_BATTERY_CONFIG, batteryStep, initialBatteryState, type BatteryConfig } from "../device/core/battery/monitor";
import { millivoltsAtSocBp } from "../device/core/battery/soc";
import { runBattery } from "../host-sim/battery/battery-run";
import { SeededRandom } from "../host-sim/virtual/random";
import { runAtConstantCharge } from "../host-sim/battery/constant-charge";

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

type FastDrainVariant = "smoothed only" | "per-reading average" | "now";

function fastDrainCase(seed: number, sampleMs: number, variant: FastDrainVariant) {
  const battery = { capacityMah: 400, capacityVariationPermille: 0, startPermille: 400, sleepUa: 60_000 };
  const telemetry = { sampleIntervalMs: sampleMs, reportIntervalMs: 600_000 };
  // "smoothed only": no projected brown-out save (the monitor before s6-alerts' fix).
  // "per-reading average": the 1/8 average stepped once per reading, whatever the interval (before
  // emaStepMs; one step per day never rounds above 1 at these intervals).
  const monitor = variant === "smoothed only" ? { fastDrainPctPerHour: 0, emaStepMs: 86_400_000 } : variant === "per-reading average" ? { emaStepMs: 86_400_000 } : undefined;
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
  };
}

function fastDrain(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let first: string | undefined;
  for (let round = 0; round <= FAST_DRAIN_ROUNDS; round++) {
    const figures: Record<string, unknown> = {};
    for (const sampleMs of FAST_DRAIN_SAMPLING_MS) {
      for (const variant of ["smoothed only", "per-reading average", "now"] as const) {
        const rows = FAST_DRAIN_SEEDS.map((seed) => fastDrainCase(seed, sampleMs, variant));
        const label = variant === "now" ? "time-weighted average + projected save (now)" : variant === "per-reading average" ? "per-reading average + projected save (before)" : "smoothed only, per-reading average (before both)";
        figures[`sample ${sampleMs / 60_000}m, ${label}`] = rows;
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

/** True when a flat cell at `mv` raised an alarm or a brown-out on any seed. */
function flatAlarms(mv: number, c: BatteryConfig): boolean {
  for (let seed = 1; seed <= FLAT_SEEDS; seed++) {
    const rnd = new SeededRandom(seed);
    const s = initialBatteryState();
    for (let i = 0; i < (FLAT_DAYS * DAY) / FLAT_SAMPLE_MS; i++) {
      // A quiet boot burst, then the noise (the boot's own median is not what is measured here).
      const read = i < c.medianWindow ? mv : mv + rnd.below(51) - 25 - (i % 5 === 0 ? 150 : 0);
      for (const e of batteryStep(s, c, { t: i * FLAT_SAMPLE_MS, mv: read, charger: "discharging" })) {
        if (e.type === "alarm" || e.type === "brownout") return true;
      }
    }
  }
  return false;
}

function flatCellNoise(): Record<string, unknown> {
  const variants = { now: DEFAULT_BATTERY_CONFIG, "per-reading average (before)": { ...DEFAULT_BATTERY_CONFIG, emaStepMs: 86_400_000 } };
  const out: Record<string, number> = {};
  for (const [name, c] of Object.entries(variants)) {
    let lowest = 3800;
    while (!flatAlarms(lowest - 1, c)) lowest--;
    out[name] = lowest;
  }
  // SoC is floored to whole %: the alarm enters below the voltage of lowEnterPct + 1.
  const entersAtOrBelow = millivoltsAtSocBp((DEFAULT_BATTERY_CONFIG.lowEnterPct + 1) * 100) - 1;
  return { lowAlarmAtSmoothedMvOrBelow: entersAtOrBelow, lowestAlarmFreeFlatMv: out };
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
  return {
    parameters: {
      constantCharge: { capacityMah: 4000, hours: 8, scoredAfterHours: 1, seeds: SOC_SEEDS, chargesPermille: CHARGES_PERMILLE, lowAlarmPct: 20 },
      timeToEmpty: { seeds: `1..${TTE_SEEDS}`, sampleInterval: "1m", reportInterval: "5m", outageEvery: "1d", outageMax: "1h", reconnect: "backoff", days: 14 },
      fastDrain: { capacityMah: 400, startPermille: 400, constantMa: 60, seeds: FAST_DRAIN_SEEDS, samplingMs: FAST_DRAIN_SAMPLING_MS, reportInterval: "10m", chipResetBelowMv: 3300, warmupRounds: 1, rounds: FAST_DRAIN_ROUNDS },
      flatCell: { seeds: `1..${FLAT_SEEDS}`, days: FLAT_DAYS, sampleMs: FLAT_SAMPLE_MS, noiseMv: "±25 uniform", txDipMv: -150, dipEvery: 5 },
      note: "deterministic figures (counts and errors from seeded runs), not timings",
    },
    machine: { cpus: os.cpus().length, node: process.version },
    reportedSocVsTruth: soc,
    timeToEmptyAtMidlifeVsTruth: tte,
    fastDrainBrownout: fast,
    flatCellNoiseAt10MinSampling: flat,
  };
}

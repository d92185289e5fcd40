// The health comparison (rule b) compares like with like: devices are matched by hardware label,
// group label and battery band, and the old cohort is measured over the new cohort's window.
// A control group that differs from the updated devices (nearly flat batteries, another
// revision) must not make a good release look worse; a release that really drains 40 % more
// (rollout-bad's 1.3.0) must still be halted; and the stratified tests reduce to the plain ones
// with one stratum.
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../service/db/open";
import { compareHealth } from "../../service/rollouts/health";
import type { DeviceState } from "../../service/rollouts/machine";
import { meanWorse, poissonRateWorse, stratifiedMeanWorse, stratifiedPoissonWorse } from "../../service/rollouts/stats";
import { SeededRandom } from "../../host-sim/virtual/random";

const HOUR = 3_600_000;
const START = 490_000 * HOUR;
const OLD = "1.2.0", NEW = "1.3.1";
const NEW_NUM = 1_003_001, OLD_NUM = 1_002_000;
const spec = { marginPct: 20, minDevices: 10, alpha: 0.001 };

interface Dev { id: string; hardware: string; battery: number; updated: boolean; drainBp: number; gapsPerHour?: number }

function state(d: Dev): DeviceState {
  return {
    deviceId: d.id, position: 0, wave: 0, state: d.updated ? "succeeded" : "queued", result: null, cause: null, fromVersion: OLD_NUM,
    offeredAt: null, offers: d.updated ? 1 : 0, progressAt: null, updatedAt: START, retries: 0, interrupted: 0, detail: null, rollbackAt: null, rollbackResult: null,
  };
}

/** Hours 0..hours-1 after START; updated devices are on NEW from `updateHour`, on OLD before. */
function fleetDb(devs: Dev[], hours: number, updateHour: number, seed = 7) {
  const db = openDatabase(":memory:");
  const r = new SeededRandom(seed);
  const ins = db.prepare("INSERT INTO fw_hourly (device_id, firmware, hour, exposure_ms, telemetry, crash_resets, reconnects, gaps, drop_sum, drop_n) VALUES (?, ?, ?, ?, 6, 0, 0, ?, ?, ?)");
  const dev = db.prepare("INSERT INTO devices (id, first_seen, last_seen, hardware, battery_pct) VALUES (?, ?, ?, ?, ?)");
  for (const d of devs) {
    dev.run(d.id, START, START, d.hardware, d.battery);
    for (let h = 0; h < hours; h++) {
      const fw = d.updated && h >= updateHour ? NEW : OLD;
      // Six reports an hour, each drain reading ±10 % around the device's true drain.
      let sum = 0;
      for (let k = 0; k < 6; k++) sum += Math.round(d.drainBp * (0.9 + 0.2 * (r.nextU32() / 2 ** 32)));
      ins.run(d.id, fw, START / HOUR + h, HOUR, d.gapsPerHour ?? 0, sum, 6);
    }
  }
  return db;
}

const devices = (n: number, f: (i: number) => Omit<Dev, "id">): Dev[] => Array.from({ length: n }, (_, i) => ({ id: `dev-${i}`, ...f(i) }));

describe("rollout health: like with like", () => {
  it("a good release is not halted when the old cohort is the nearly flat batteries (unmatched band)", () => {
    // 40 updated devices at 80 %, draining 0.30 %/h; 40 left behind at 15 %, reading 0.05 %/h.
    const devs = devices(80, (i) => (i < 40 ? { hardware: "A", battery: 80, updated: true, drainBp: 30 } : { hardware: "A", battery: 15, updated: false, drainBp: 5 }));
    const v = compareHealth(fleetDb(devs, 6, 1), devs.map(state), NEW_NUM, START, spec);
    expect(v.worse).toBeNull();
    expect(v.detail.unmatched).toEqual({ newDevices: 40, oldDevices: 40 });
    // The same data compared as one cohort each (every device in one band) would have halted it.
    const pooled = devs.map((d) => ({ ...d, battery: 80 }));
    expect(compareHealth(fleetDb(pooled, 6, 1), pooled.map(state), NEW_NUM, START, spec).worse).toBe("battery");
  });

  it("a release that drains 40 % more is halted by worse-battery within the matched strata", () => {
    // Two revisions with different drains; in each, updated devices drain 1.4× their peers.
    const devs = devices(120, (i) => {
      const hardware = i % 2 === 0 ? "A" : "B";
      const base = hardware === "A" ? 20 : 40;
      const updated = i < 60;
      return { hardware, battery: 70, updated, drainBp: updated ? base * 1.4 : base };
    });
    const v = compareHealth(fleetDb(devs, 4, 1), devs.map(state), NEW_NUM, START, spec);
    expect(v.worse).toBe("battery");
    expect(v.detail.strata).toBe(2);
  });

  it("a release that is no worse in each stratum is not halted although the mix differs", () => {
    // Updated devices are mostly revision B (drains more on any version), the old ones mostly A.
    const devs = devices(120, (i) => {
      const updated = i < 60;
      const hardware = updated ? (i % 6 === 0 ? "A" : "B") : i % 6 === 0 ? "B" : "A";
      return { hardware, battery: 70, updated, drainBp: hardware === "A" ? 20 : 40 };
    });
    const v = compareHealth(fleetDb(devs, 4, 1), devs.map(state), NEW_NUM, START, spec);
    expect(v.worse).toBeNull();
  });

  it("measures the old cohort over the new cohort's window, not before it", () => {
    // Gaps happened to the old-version devices only in the first hours (before any update had data):
    // counted over the whole rollout they would make the new version look better than it is.
    const db = fleetDb(devices(40, (i) => ({ hardware: "A", battery: 70, updated: i < 20, drainBp: 20, gapsPerHour: i < 20 ? 1 : 0 })), 8, 4);
    db.prepare("UPDATE fw_hourly SET gaps = 20 WHERE firmware = ? AND hour < ?").run(OLD, START / HOUR + 4);
    const devs = devices(40, (i) => ({ hardware: "A", battery: 70, updated: i < 20, drainBp: 20 }));
    const v = compareHealth(db, devs.map(state), NEW_NUM, START, spec);
    expect(v.worse).toBe("gaps");
  });

  it("the stratified tests equal the plain ones with one stratum, and combine strata", () => {
    expect(stratifiedPoissonWorse([{ x1: 60, e1: 100, x0: 50, e0: 500 }], 0.2)).toBe(poissonRateWorse(60, 100, 50, 500, 0.2));
    const a = [1, 2, 3, 4, 5], b = [1, 1.5, 2, 2.5];
    expect(stratifiedMeanWorse([{ a, b }], 0.2).p).toBeCloseTo(meanWorse(a, b, 0.2).p, 12);
    // Two strata at exactly the old rate: not significant; the new rate 3× the old in both: significant.
    expect(stratifiedPoissonWorse([{ x1: 10, e1: 10, x0: 10, e0: 10 }, { x1: 2, e1: 10, x0: 2, e0: 10 }], 0.2)).toBeGreaterThan(0.3);
    expect(stratifiedPoissonWorse([{ x1: 60, e1: 10, x0: 20, e0: 10 }, { x1: 12, e1: 10, x0: 4, e0: 10 }], 0.2)).toBeLessThan(0.001);
    // A stratum with no old exposure carries no information.
    expect(stratifiedPoissonWorse([{ x1: 50, e1: 10, x0: 0, e0: 0 }], 0.2)).toBe(1);
  });
});

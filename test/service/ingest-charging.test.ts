// The battery-drain health metric must not count reports made on a charger: a cohort with
// plugged-in devices would otherwise look as if its firmware drained less (found by
// scenarios/rollout-bad.json, where deferred low-battery devices are recharged mid-rollout), nor
// reports made in low-battery mode (status 4: the agent stretches reports and sleeps, so such a
// cohort drains less whatever the firmware; a 300-device rollout-bad run with the low-battery
// group at 20 % halted the good 1.3.1 by worse-battery because of it).
import { describe, expect, it } from "vitest";
import { encodeTelemetryBatch } from "../../device/core/telemetry/record";
import type { ServiceClock } from "../../service/clock";
import { openDatabase } from "../../service/db/open";
import { DRAIN_SETTLED_UPTIME_MS, Ingest } from "../../service/registry/ingest";

const EPOCH = 1_795_000_000_000;

describe("ingest: battery drain per firmware", () => {
  it("keeps drain from discharging reports in normal mode and drops it from charging, full or low-battery ones", () => {
    let now = EPOCH;
    const clock: ServiceClock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    const db = openDatabase(":memory:");
    const ingest = new Ingest(db, clock);
    const report = (id: string, seq: number, status: 0 | 1 | 2 | 4) =>
      ({
        topic: `tether/${id}/telemetry`,
        retain: false,
        payload: encodeTelemetryBatch({
          deviceId: id, seq, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: now, uptimeMs: DRAIN_SETTLED_UPTIME_MS + seq * 60_000,
          link: { state: "online", reconnects: 0 }, battery: { mv: 3900, pct: 60, status, dropBpPerHour: 50, timeToEmptyMin: 5000 },
          samples: [],
        } as any),
      });
    for (let seq = 1; seq <= 3; seq++) {
      now += 60_000;
      ingest.handle([report("dev-a", seq, 0), report("dev-b", seq, 1), report("dev-c", seq, 2), report("dev-d", seq, 4)]);
    }
    const rows = db.prepare("SELECT device_id, SUM(drop_n) AS n FROM fw_hourly GROUP BY device_id ORDER BY device_id").all();
    expect(rows).toEqual([{ device_id: "dev-a", n: 3 }, { device_id: "dev-b", n: 0 }, { device_id: "dev-c", n: 0 }, { device_id: "dev-d", n: 0 }]);
  });
});

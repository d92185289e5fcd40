/**
 * The offline rule after a service restart. The report interval a device is judged by (the one
 * its batches announce, key 15, or the one learned from their spacing) is kept in the service
 * database, so a device that goes silent across a restart is flagged after 3 of its own intervals
 * (never sooner than minSilenceMs), not after 3 × assumedIntervalMs (3 h). A real service:
 * encoded telemetry through the ingest, the database file closed and reopened.
 */
import { afterEach, describe, expect, it } from "vitest";
import { encodeTelemetryBatch } from "../../device/core/telemetry/record";
import type { ServiceClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { parseRules } from "../../service/health/config";
import { ProactiveSupport } from "../../service/health/module";
import { tempDir } from "../helpers/temp";
import { NullTransport } from "./chromium";
import { batch } from "./helpers";

const MIN = 60_000;
let t = Date.UTC(2026, 10, 1);
const clock: ServiceClock = { now: () => t, setTimeout: () => undefined, clearTimeout: () => {} };
let service: FleetService | undefined;

async function startService(file: string): Promise<{ service: FleetService; p: ProactiveSupport }> {
  const s = new FleetService({ db: file, clock, transport: new NullTransport() });
  const p = new ProactiveSupport(s, parseRules({}));
  await s.use(p);
  await s.start();
  service = s;
  return { service: s, p };
}

afterEach(async () => {
  await service?.close();
  service = undefined;
});

/** Offline alerts opened by one evaluation, by device. */
function offlineOpened(p: ProactiveSupport): string[] {
  return p.evaluate().filter((c) => c.event === "opened" && c.alert.rule === "offline").map((c) => c.alert.subject);
}

describe("offline rule across a service restart", () => {
  it("judges a silent device by the interval it announced (60 s → offline after 5 min, not 3 h), and older firmware by the learned one (10 min → 30 min)", async () => {
    const file = `${tempDir("tether-restart-interval-")}/fleet.db`;
    let { service: s, p } = await startService(file);
    const send = (id: string, seq: number, minute: number, intervalSec?: number) =>
      s.ingest.handle([{ topic: `tether/${id}/telemetry`, payload: encodeTelemetryBatch(batch(id, { seq, uptimeMs: 6 * 3_600_000 + minute * MIN, intervalSec })), retain: false }]);
    // An hour: "new" reports every minute and says so; "old" (no key 15) every 10 minutes.
    for (let minute = 0; minute <= 60; minute++) {
      send("new", minute + 1, minute, 60);
      if (minute % 10 === 0) send("old", minute / 10 + 1, minute);
      expect(offlineOpened(p)).toEqual([]);
      if (minute < 60) t += MIN;
    }
    const lastBatchAt = t;
    await s.close();

    // The service restarts a minute later; both devices stay silent from now on.
    t += MIN;
    ({ service: s, p } = await startService(file));
    t = lastBatchAt + 5 * MIN; // silence limit of "new": max(minSilenceMs 5 min, 3 × 1 min)
    expect(offlineOpened(p)).toEqual([]);
    t += MIN;
    expect(offlineOpened(p)).toEqual(["new"]);
    t = lastBatchAt + 30 * MIN; // 3 × the learned 10 min
    expect(offlineOpened(p)).toEqual([]);
    t += MIN;
    expect(offlineOpened(p)).toEqual(["old"]);
    // What they were judged by, restored from the database.
    expect(p.engine.snapshot("new")).toMatchObject({ announcedIntervalMs: 60_000, lastSeenMs: lastBatchAt });
    expect(p.engine.snapshot("old")).toMatchObject({ intervalMs: 10 * MIN, lastSeenMs: lastBatchAt });
    expect(p.engine.snapshot("old")!.announcedIntervalMs).toBeUndefined();

    // Written when a value changed, not per batch: 61 batches of "new", its row last written on its first.
    const rows = s.db.prepare("SELECT device_id, announced_ms, learned_ms, updated_at FROM device_intervals ORDER BY device_id").all();
    expect(rows).toEqual([
      { device_id: "new", announced_ms: 60_000, learned_ms: MIN, updated_at: lastBatchAt - 59 * MIN },
      { device_id: "old", announced_ms: null, learned_ms: 10 * MIN, updated_at: lastBatchAt - 50 * MIN },
    ]);
  });
});

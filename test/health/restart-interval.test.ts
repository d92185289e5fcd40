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
import { HealthEngine } from "../../service/health/engine";
import { ProactiveSupport } from "../../service/health/module";
import { tempDir } from "../helpers/temp";
import { NullTransport } from "./chromium";
import { batch, healthDb, TestClock } from "./helpers";

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

  it("restores every device's intervals when many devices are seeded at start (one query for the fleet)", async () => {
    const file = `${tempDir("tether-restart-many-")}/fleet.db`;
    const DEVICES = 1_500;
    const { service: s } = await startService(file);
    const id = (d: number) => `m-${String(d).padStart(4, "0")}`;
    // Each device its own intervals: announced (30 + d) s, or none (older firmware) for one in three;
    // the batch spacing (the learned interval) is (30 + d) s, or (600 + d) s for the older ones. One in
    // seven announces another interval on a third batch (its row is written again).
    const announced = (d: number, seq: number) => (d % 3 === 2 ? undefined : seq === 3 ? 90 + d : 30 + d);
    const spacingMs = (d: number) => (d % 3 === 2 ? 600 + d : 30 + d) * 1000;
    const firstAt = t;
    for (let seq = 1; seq <= 3; seq++) {
      const msgs = [];
      for (let d = 0; d < DEVICES; d++) {
        if (seq === 3 && d % 7 !== 0) continue;
        msgs.push({ topic: `tether/${id(d)}/telemetry`, retain: false, payload: encodeTelemetryBatch(batch(id(d), { seq, uptimeMs: 3_600_000 + seq * spacingMs(d), intervalSec: announced(d, seq) })) });
      }
      for (let i = 0; i < msgs.length; i += 500) s.ingest.handle(msgs.slice(i, i + 500));
      t += MIN;
    }
    s.registry.setLabels("labelled-only", { group: "field" }, t); // known to the registry, never reported
    await s.close();

    t += MIN;
    const { p } = await startService(file);
    expect(p.engine.deviceCount).toBe(DEVICES + 1);
    const wrong: string[] = [];
    for (let d = 0; d < DEVICES; d++) {
      const last = d % 7 === 0 ? 3 : 2;
      const want = { announcedIntervalMs: announced(d, last) === undefined ? undefined : announced(d, last)! * 1000, intervalMs: spacingMs(d), lastSeenMs: firstAt + (last - 1) * MIN };
      const got = p.engine.snapshot(id(d));
      if (!got || got.announcedIntervalMs !== want.announcedIntervalMs || got.intervalMs !== want.intervalMs || got.lastSeenMs !== want.lastSeenMs) {
        wrong.push(`${id(d)}: ${JSON.stringify(got && { a: got.announcedIntervalMs, l: got.intervalMs, seen: got.lastSeenMs })} != ${JSON.stringify(want)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(p.engine.snapshot("labelled-only")).toMatchObject({ intervalMs: 0, group: "field" });
    expect(p.engine.snapshot("labelled-only")!.announcedIntervalMs).toBeUndefined();
  });

  it("writes the intervals one ingest batch changed in one transaction; a failed write is kept and written with the next batch", () => {
    const db = healthDb();
    const clock = new TestClock();
    const e = new HealthEngine({ db, rules: parseRules({}), now: clock.now });
    const rows = () => (db.prepare("SELECT device_id FROM device_intervals ORDER BY device_id").all() as { device_id: string }[]).map((r) => r.device_id);
    // The write of "b" fails (as a full disk would): "a", written before it in the same batch, is rolled back with it.
    db.exec("CREATE TEMP TRIGGER fail_b BEFORE INSERT ON device_intervals WHEN NEW.device_id = 'b' BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => e.inputs(() => ["a", "b"].forEach((id) => e.telemetry(batch(id, { seq: 1, intervalSec: 60 }))))).toThrow(/disk full/);
    expect(rows()).toEqual([]);
    db.exec("DROP TRIGGER fail_b");
    clock.advance(MIN);
    // The next batch (another device only) writes what the failed one could not.
    e.inputs(() => e.telemetry(batch("c", { seq: 1, intervalSec: 60 })));
    expect(rows()).toEqual(["a", "b", "c"]);
    db.close();
  });
});

// Retention (service/db/retention.ts): rows past each horizon are deleted in bounded batches by
// a periodic job on the service clock; rows inside the horizon and the fw_hourly buckets a live
// rollout compares stay. Telemetry and fw_hourly come from the real ingest path.
import { describe, expect, it } from "vitest";
import { encodeTelemetryBatch } from "../../device/core/telemetry/record";
import type { ServiceClock } from "../../service/clock";
import { openDatabase, type Db } from "../../service/db/open";
import { DEFAULT_RETENTION, parseRetention, RetentionJob, type RetentionPolicy } from "../../service/db/retention";
import { Ingest } from "../../service/registry/ingest";

const EPOCH = 1_795_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A clock whose timers fire, in order, as the test advances it. */
class ManualClock implements ServiceClock {
  t = EPOCH;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== id);
  };
  pending(): number {
    return this.timers.length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

const report = (id: string, seq: number, at: number) => ({
  topic: `tether/${id}/telemetry`,
  retain: false,
  payload: encodeTelemetryBatch({
    deviceId: id, seq, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: at, uptimeMs: seq * 3 * HOUR,
    link: { state: "online", reconnects: 0 }, battery: { mv: 3900, pct: 60, status: 0, dropBpPerHour: 50, timeToEmptyMin: 5000 }, samples: [],
  } as never),
});

const POLICY: RetentionPolicy = { ...DEFAULT_RETENTION, telemetryMs: 10 * DAY, eventsMs: 12 * DAY, auditMs: 20 * DAY, fwHourlyMs: 7 * DAY, batchRows: 25, everyMs: 60_000 };
const DEVICES = ["dev-a", "dev-b", "dev-c"];

/** 40 days of history: a batch per device every 3 h through ingest, an event and an audit row per hour. */
function history(db: Db, clock: ManualClock): void {
  const ingest = new Ingest(db, clock);
  const event = db.prepare("INSERT INTO device_events (device_id, at, kind) VALUES (?, ?, 'test')");
  const audit = db.prepare("INSERT INTO audit (at, method, path, status) VALUES (?, 'POST', '/api/test', 200)");
  for (let h = 0; h < 40 * 24; h++) {
    if (h % 3 === 0) ingest.handle(DEVICES.map((id) => report(id, h / 3 + 1, clock.t)));
    event.run("dev-a", clock.t);
    audit.run(clock.t);
    clock.t += HOUR;
  }
}

const count = (db: Db, sql: string, ...args: number[]) => (db.prepare(sql).get(...args) as { n: number }).n;

describe("retention", () => {
  it("deletes past each horizon in bounded batches, keeps what is inside it and a live rollout's buckets", () => {
    const clock = new ManualClock();
    const db = openDatabase(":memory:");
    history(db, clock);
    const now = clock.t;
    // A live rollout created 30 days ago compares fw_hourly from then on; a finished older one protects nothing.
    const liveAt = now - 30 * DAY - 90 * 60_000;
    db.prepare("INSERT INTO rollouts (id, created_at, spec, status, wave, updated_at) VALUES ('r-live', ?, '{}', 'running', 0, ?)").run(liveAt, liveAt);
    db.prepare("INSERT INTO rollouts (id, created_at, spec, status, wave, updated_at) VALUES ('r-done', ?, '{}', 'completed', 0, ?)").run(now - 39 * DAY, now);
    const liveHour = Math.floor(liveAt / HOUR);
    const later = now + 5 * 60_000; // when the checks below run
    const before = {
      telemetryInside: count(db, "SELECT count(*) AS n FROM telemetry WHERE received_at >= ?", later - POLICY.telemetryMs),
      eventsInside: count(db, "SELECT count(*) AS n FROM device_events WHERE at >= ?", later - POLICY.eventsMs),
      auditInside: count(db, "SELECT count(*) AS n FROM audit WHERE at >= ?", later - POLICY.auditMs),
      fwLive: count(db, "SELECT count(*) AS n FROM fw_hourly WHERE hour >= ?", liveHour),
      fwTotal: count(db, "SELECT count(*) AS n FROM fw_hourly"),
    };
    expect(before.fwTotal).toBeGreaterThan(before.fwLive);
    expect(count(db, "SELECT count(*) AS n FROM telemetry")).toBeGreaterThan(before.telemetryInside + POLICY.batchRows);

    const job = new RetentionJob(db, clock, POLICY);
    // One run is bounded: at most batchRows per table, the oldest first.
    const first = job.runOnce();
    expect(first).toEqual({ telemetry: 25, events: 25, audit: 25, fwHourly: 25 });
    expect(count(db, "SELECT min(hour) AS n FROM fw_hourly")).toBeGreaterThan(Math.floor(EPOCH / HOUR));

    // The periodic job catches up in batches (no pass deletes more than batchRows per table).
    job.start();
    clock.advance(later - now);
    expect(count(db, "SELECT count(*) AS n FROM telemetry WHERE received_at < ?", later - POLICY.telemetryMs)).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM telemetry")).toBe(before.telemetryInside);
    expect(count(db, "SELECT count(*) AS n FROM device_events WHERE at < ?", later - POLICY.eventsMs)).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM device_events")).toBe(before.eventsInside);
    expect(count(db, "SELECT count(*) AS n FROM audit WHERE at < ?", later - POLICY.auditMs)).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM audit")).toBe(before.auditInside);
    // fw_hourly: older than 7 days goes, except what the live rollout compares (from its creation hour).
    expect(count(db, "SELECT count(*) AS n FROM fw_hourly WHERE hour < ?", liveHour)).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM fw_hourly")).toBe(before.fwLive);
    // The registry itself is never pruned.
    expect(count(db, "SELECT count(*) AS n FROM devices")).toBe(DEVICES.length);

    // Once the rollout finishes, its buckets age out like the rest.
    db.prepare("UPDATE rollouts SET status = 'completed' WHERE id = 'r-live'").run();
    clock.advance(2 * 60_000);
    expect(count(db, "SELECT count(*) AS n FROM fw_hourly WHERE hour < ?", Math.floor((clock.t - POLICY.fwHourlyMs) / HOUR))).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM fw_hourly WHERE hour >= ?", Math.floor((clock.t - POLICY.fwHourlyMs) / HOUR))).toBeGreaterThan(0);

    job.stop();
    expect(clock.pending()).toBe(0);
    db.close();
  });

  it("keeps everything with \"forever\", and refuses bad or too short horizons with the flag's name", () => {
    const clock = new ManualClock();
    const db = openDatabase(":memory:");
    history(db, clock);
    const total = count(db, "SELECT count(*) AS n FROM telemetry");
    const forever = parseRetention({ telemetry: "forever", events: "forever", audit: "forever", fwHourly: "forever" });
    expect(new RetentionJob(db, clock, forever).runOnce()).toEqual({ telemetry: 0, events: 0, audit: 0, fwHourly: 0 });
    expect(count(db, "SELECT count(*) AS n FROM telemetry")).toBe(total);
    db.close();

    expect(parseRetention({})).toEqual(DEFAULT_RETENTION);
    expect(parseRetention({ telemetry: "45d", fwHourly: "14d" })).toMatchObject({ telemetryMs: 45 * DAY, fwHourlyMs: 14 * DAY, eventsMs: DEFAULT_RETENTION.eventsMs });
    expect(() => parseRetention({ telemetry: "30 days" })).toThrow(/--keep-telemetry "30 days": expected a duration like 30d/);
    expect(() => parseRetention({ events: "30m" })).toThrow(/--keep-events "30m": must be at least 24h/);
    expect(() => parseRetention({ fwHourly: "2d" })).toThrow(/--keep-fw-hourly "2d": must be at least 168h/);
  });
});

// Ingest keeps the device columns it reads back in memory (service/registry/ingest.ts). The
// cache must never hold what the database does not: a batch whose transaction fails is rolled
// back and the cache forgotten, and a new process reads the rows it finds.
import { describe, expect, it } from "vitest";
import path from "node:path";
import { encodeTelemetryBatch } from "../../device/core/telemetry/record";
import { encodeStatus } from "../../device/core/ota/status";
import type { ServiceClock } from "../../service/clock";
import { openDatabase, type Db } from "../../service/db/open";
import { Ingest } from "../../service/registry/ingest";
import { tempDir } from "../helpers/temp";

const EPOCH = 1_795_000_000_000;

function rig(db: Db) {
  let now = EPOCH;
  const clock: ServiceClock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  return { ingest: new Ingest(db, clock), advance: (ms: number) => (now += ms), now: () => now };
}

const report = (id: string, seq: number, at: number, over: Record<string, unknown> = {}) => ({
  topic: `tether/${id}/telemetry`,
  retain: false,
  payload: encodeTelemetryBatch({
    deviceId: id, seq, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: at, uptimeMs: seq * 60_000,
    link: { state: "online", reconnects: seq }, battery: { mv: 3900, pct: 60, status: 0, dropBpPerHour: 50, timeToEmptyMin: 5000 }, samples: [],
    ...over,
  } as never),
});

const row = (db: Db, id: string) =>
  db.prepare("SELECT online, last_seq, telemetry_count, duplicates, reconnects_total, firmware, firmware_num, boots FROM devices WHERE id = ?").get(id);

describe("ingest's device cache", () => {
  it("forgets what a failed transaction rolled back: the redelivered batch is stored as new", () => {
    const db = openDatabase(":memory:");
    const { ingest, advance, now } = rig(db);
    ingest.handle([report("dev-a", 1, now())]);
    advance(60_000);
    // The database refuses the batch after dev-a's report was written (as a full disk would).
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON telemetry WHEN NEW.device_id = 'dev-boom' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    ingest.handle([report("dev-a", 2, now()), report("dev-new", 1, now())]); // commits
    expect(() => ingest.handle([report("dev-a", 3, now()), report("dev-new", 2, now()), report("dev-boom", 1, now())])).toThrow(/disk is full/);
    expect(row(db, "dev-a")).toMatchObject({ last_seq: 2, telemetry_count: 2 });
    db.exec("DROP TRIGGER refuse");
    // The broker redelivers the unacknowledged batch.
    ingest.handle([report("dev-a", 3, now()), report("dev-new", 2, now()), report("dev-boom", 1, now())]);
    expect(ingest.stats.duplicates).toBe(0);
    expect(row(db, "dev-a")).toMatchObject({ online: 1, last_seq: 3, telemetry_count: 3, duplicates: 0, reconnects_total: 2 });
    expect(row(db, "dev-new")).toMatchObject({ online: 1, last_seq: 2, telemetry_count: 2 });
    expect(row(db, "dev-boom")).toMatchObject({ online: 1, last_seq: 1, telemetry_count: 1 });
    const online = db.prepare("SELECT device_id, COUNT(*) AS n FROM device_events WHERE kind = 'online' GROUP BY device_id ORDER BY device_id").all();
    expect(online).toEqual([{ device_id: "dev-a", n: 1 }, { device_id: "dev-boom", n: 1 }, { device_id: "dev-new", n: 1 }]);
  });

  it("a device first stored by a failed batch is created again, with its online event", () => {
    const db = openDatabase(":memory:");
    const { ingest, now } = rig(db);
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON fw_hourly BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    expect(() => ingest.handle([report("dev-x", 1, now())])).toThrow(/disk is full/);
    expect(row(db, "dev-x")).toBeUndefined();
    db.exec("DROP TRIGGER refuse");
    ingest.handle([report("dev-x", 1, now())]);
    expect(row(db, "dev-x")).toMatchObject({ online: 1, last_seq: 1, telemetry_count: 1, firmware: "1.2.0", firmware_num: 1_002_000 });
  });

  it("a new process reads the rows it finds: dedupe, boots and reconnects go on across a restart", () => {
    const file = path.join(tempDir("ingest-cache-"), "fleet.db");
    let db = openDatabase(file);
    let r = rig(db);
    for (let seq = 1; seq <= 3; seq++) {
      r.ingest.handle([report("dev-a", seq, r.now())]);
      r.advance(60_000);
    }
    db.close();
    db = openDatabase(file);
    r = rig(db);
    r.advance(4 * 60_000);
    r.ingest.handle([report("dev-a", 3, r.now())]); // a redelivery after the restart
    r.ingest.handle([report("dev-a", 4, r.now())]);
    r.ingest.handle([report("dev-a", 5, r.now(), { uptimeMs: 1_000, resetReason: "watchdog", link: { state: "online", reconnects: 1 } })]);
    expect(r.ingest.stats).toMatchObject({ telemetry: 2, duplicates: 1 });
    expect(row(db, "dev-a")).toMatchObject({ last_seq: 5, telemetry_count: 5, duplicates: 1, boots: 1, reconnects_total: 2 + 1 + 1 });
    db.close();
  });

  it("an OTA status that names another running version changes the firmware the next report compares with", () => {
    const db = openDatabase(":memory:");
    const { ingest, advance, now } = rig(db);
    ingest.handle([report("dev-a", 1, now())]);
    advance(60_000);
    ingest.handle([{ topic: "tether/dev-a/ota/status", retain: true, payload: encodeStatus({ state: 0, result: 1, version: 1_003_000, running: 1_003_000 }) }]);
    expect(row(db, "dev-a")).toMatchObject({ firmware: "1.3.0", firmware_num: 1_003_000 });
    advance(60_000);
    ingest.handle([report("dev-a", 2, now(), { firmware: "1.3.0", uptimeMs: 5_000 })]);
    // Already 1.3.0 from the status: no firmware-change event, and the report's boot is seen.
    const events = db.prepare("SELECT kind FROM device_events WHERE device_id = 'dev-a' ORDER BY id").all().map((e) => (e as { kind: string }).kind);
    expect(events).toEqual(["online", "ota", "boot"]);
    expect(row(db, "dev-a")).toMatchObject({ firmware: "1.3.0", firmware_num: 1_003_000, boots: 1 });
  });
});

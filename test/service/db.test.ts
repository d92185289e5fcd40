// The fleet database: created when missing, migrated in order, and refused (untouched, with a
// clear error) when it is not a database, is damaged, or was written by a newer schema.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { DatabaseError, openDatabase, schemaVersion } from "../../service/db/open";
import { MIGRATIONS } from "../../service/db/migrations";
import { tempDir } from "../helpers/temp";

describe("fleet database", () => {
  it("creates a missing file in WAL mode at the latest schema", () => {
    const file = path.join(tempDir("fleet-db-"), "fleet.db");
    const db = openDatabase(file);
    expect(fs.existsSync(file)).toBe(true);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    db.close();
  });

  it("keeps the data across a reopen and runs only the new migrations", () => {
    const file = path.join(tempDir("fleet-db-"), "fleet.db");
    const db = openDatabase(file);
    db.prepare("INSERT INTO devices (id, first_seen, last_seen) VALUES ('d1', 1, 1)").run();
    db.close();
    const extra = [...MIGRATIONS, { name: "test: a later table", sql: "CREATE TABLE later (x INTEGER)" }];
    const again = openDatabase(file, { migrations: extra });
    expect(schemaVersion(again)).toBe(MIGRATIONS.length + 1);
    expect(again.prepare("SELECT id FROM devices").all()).toEqual([{ id: "d1" }]);
    again.close();
  });

  it("refuses a file written by a newer schema, leaving it untouched", () => {
    const file = path.join(tempDir("fleet-db-"), "fleet.db");
    const newer = [...MIGRATIONS, { name: "future", sql: "CREATE TABLE future (x INTEGER)" }];
    openDatabase(file, { migrations: newer }).close();
    const before = fs.readFileSync(file);
    expect(() => openDatabase(file)).toThrow(DatabaseError);
    expect(() => openDatabase(file)).toThrow(new RegExp(`schema version ${MIGRATIONS.length + 1}, written by a newer Tether \\(this one knows up to ${MIGRATIONS.length}\\)`));
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it("refuses a file that is not a database", () => {
    const file = path.join(tempDir("fleet-db-"), "fleet.db");
    fs.writeFileSync(file, "this is not a database, it is a note\n".repeat(200));
    const before = fs.readFileSync(file);
    expect(() => openDatabase(file)).toThrow(/cannot be read .*not a Tether fleet database or it is damaged/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it("refuses a database whose pages were overwritten", () => {
    const file = path.join(tempDir("fleet-db-"), "fleet.db");
    const db = openDatabase(file);
    const ins = db.prepare("INSERT INTO telemetry (device_id, seq, received_at, wall, samples) VALUES (?, ?, 1, 1, 0)");
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) ins.run(`dev-${i % 50}`, i);
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    const bytes = fs.readFileSync(file);
    // Garbage over the middle pages (b-tree pages of the tables), the header left intact.
    for (let i = 4096 * 3; i < Math.min(bytes.length, 4096 * 8); i++) bytes[i] = (i * 7919) & 0xff;
    fs.writeFileSync(file, bytes);
    expect(() => openDatabase(file)).toThrow(DatabaseError);
    expect(() => openDatabase(file)).toThrow(/damaged|cannot be read/);
  });

  it("refuses a SQLite file that is not a Tether fleet database", () => {
    const file = path.join(tempDir("fleet-db-"), "other.db");
    const foreign = new Database(file);
    foreign.exec("CREATE TABLE customers (name TEXT)");
    foreign.close();
    expect(() => openDatabase(file)).toThrow(/holds tables but no Tether schema version/);
  });
});

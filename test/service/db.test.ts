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

  /** A database of 3,000 telemetry rows; `crashed` leaves its WAL file behind as a killed process would. */
  function filled(crashed: boolean): string {
    const file = path.join(tempDir("fleet-db-"), "fleet.db");
    const db = openDatabase(file);
    const ins = db.prepare("INSERT INTO telemetry (device_id, seq, received_at, wall, samples) VALUES (?, ?, 1, 1, 0)");
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) ins.run(`dev-${i % 50}`, i);
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
    if (!crashed) {
      db.close();
      return file;
    }
    // Copy the files while still open: the copy is what a kill -9 leaves (the WAL file not removed).
    db.prepare("INSERT INTO devices (id, first_seen, last_seen) VALUES ('d1', 1, 1)").run();
    const copy = path.join(tempDir("fleet-db-"), "fleet.db");
    fs.copyFileSync(file, copy);
    fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    db.close();
    return copy;
  }

  function overwriteMiddlePages(file: string): void {
    const bytes = fs.readFileSync(file);
    // Garbage over the middle pages (b-tree pages of the tables), the header left intact.
    for (let i = 4096 * 3; i < Math.min(bytes.length, 4096 * 8); i++) bytes[i] = (i * 7919) & 0xff;
    fs.writeFileSync(file, bytes);
  }

  it("refuses a database whose pages were overwritten, when the full check is asked for", () => {
    const file = filled(false);
    overwriteMiddlePages(file);
    expect(() => openDatabase(file, { fullCheck: true })).toThrow(DatabaseError);
    expect(() => openDatabase(file, { fullCheck: true })).toThrow(/damaged|cannot be read/);
  });

  it("runs the full check by itself after a run that did not close the database", () => {
    const file = filled(true);
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(0);
    overwriteMiddlePages(file);
    expect(() => openDatabase(file)).toThrow(/damaged|cannot be read/);
  });

  it("opens a cleanly closed database without reading every page (the start cost does not grow with the file)", () => {
    const file = filled(false);
    overwriteMiddlePages(file);
    // By design: the header and schema are read, the table pages are not (tether fleet serve --check-db reads them).
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    db.close();
  });

  it("refuses a SQLite file that is not a Tether fleet database", () => {
    const file = path.join(tempDir("fleet-db-"), "other.db");
    const foreign = new Database(file);
    foreign.exec("CREATE TABLE customers (name TEXT)");
    foreign.close();
    expect(() => openDatabase(file)).toThrow(/holds tables but no Tether schema version/);
  });
});

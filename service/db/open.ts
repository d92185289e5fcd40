/**
 * Opens the fleet database: better-sqlite3, WAL, foreign keys, and the migrations in order.
 * A missing file is created. A file that is not a SQLite database, is damaged, or was written
 * by a newer schema is refused with a clear error and left untouched: never a silent reset.
 *
 * Every open reads the header and the schema (cheap, whatever the size). The full
 * `PRAGMA quick_check` reads every page, so its cost grows with the file (seconds to minutes at
 * tens of GB): it runs when asked (`fullCheck`, `tether fleet serve --check-db`) and when the
 * previous run did not close the database (its WAL file is still there: a crash, kill -9 or
 * power loss), the one time damage is likelier than usual.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { MIGRATIONS, type Migration } from "./migrations";

export type Db = Database.Database;

export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseError";
  }
}

export interface OpenOptions {
  /** The migration list (tests pass a longer one to play a newer build). */
  migrations?: readonly Migration[];
  readonly?: boolean;
  /** Run the full integrity check even after a clean shutdown. */
  fullCheck?: boolean;
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const migrations = options.migrations ?? MIGRATIONS;
  const existed = file !== ":memory:" && fs.existsSync(file);
  // SQLite deletes the WAL file when the last connection closes; one left over means a run ended without closing.
  const unclean = existed && walLeftOver(file);
  let db: Db;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (err) {
    throw new DatabaseError(`cannot open fleet database ${file}: ${(err as Error).message}`);
  }
  try {
    check(db, file, existed, (options.fullCheck ?? false) || unclean);
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      // WAL + NORMAL: a commit survives the process dying (kill -9); only an OS crash can lose the last commits.
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      db.pragma("busy_timeout = 5000");
    }
    migrate(db, file, migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function walLeftOver(file: string): boolean {
  try {
    return fs.statSync(`${file}-wal`).size > 0;
  } catch {
    return false;
  }
}

function check(db: Db, file: string, existed: boolean, full: boolean): void {
  if (!existed) return;
  try {
    // The first read of the header and schema: a file that is not SQLite fails here ("file is not a database").
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    if (!full) return;
    const r = db.pragma("quick_check", { simple: true });
    if (r !== "ok") throw new DatabaseError(`fleet database ${file} is damaged (integrity check: ${String(r)}); restore it from a backup or move it away`);
  } catch (err) {
    if (err instanceof DatabaseError) throw err;
    throw new DatabaseError(
      `fleet database ${file} cannot be read (${(err as Error).message}); it is not a Tether fleet database or it is damaged. ` +
        `Restore it from a backup or move it away; it was not modified`,
    );
  }
}

function migrate(db: Db, file: string, migrations: readonly Migration[]): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > migrations.length) {
    throw new DatabaseError(
      `fleet database ${file} has schema version ${version}, written by a newer Tether (this one knows up to ${migrations.length}); ` +
        `upgrade Tether or use another --db file; it was not modified`,
    );
  }
  if (version === 0 && hasTables(db)) {
    throw new DatabaseError(`fleet database ${file} holds tables but no Tether schema version; it is not a Tether fleet database`);
  }
  for (let v = version; v < migrations.length; v++) {
    const m = migrations[v];
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

function hasTables(db: Db): boolean {
  return (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n > 0;
}

export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}

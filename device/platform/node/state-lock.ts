/**
 * One process per state directory. Two agents on one flash and key-value store would send the
 * same sequence numbers with different data, so the directory is locked with a pid file created
 * exclusively (O_EXCL). A lock left by a killed process (kill -9, power loss) is stale when its
 * process is gone, or when that pid now belongs to a process that started later (pid reuse:
 * the Linux start time from /proc is recorded beside the pid), and is then taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

export const LOCK_FILE = "lock";

export class StateLockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateLockError";
  }
}

interface LockOwner {
  pid: number;
  host: string;
  /** /proc/<pid>/stat start time in clock ticks since boot (Linux), or null. */
  start: number | null;
}

export interface StateLock {
  readonly path: string;
  release(): void;
}

/** Takes the lock on `dir` (created if missing) or throws StateLockError naming the owner. */
export function lockStateDir(dir: string): StateLock {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new StateLockError(`state directory ${dir}: ${(e as Error).message}`);
  }
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), start: processStart(process.pid) };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new StateLockError(`state directory ${dir} is not writable (${code ?? (e as Error).message}): the device keeps its flash and sequence numbers there`);
      const owner = readOwner(path);
      if (owner !== undefined && isAlive(owner)) {
        throw new StateLockError(`state directory ${dir} is in use by process ${owner.pid}${owner.host === me.host ? "" : ` on ${owner.host}`}; one device process per state directory (two would send the same sequence numbers)`);
      }
      takeOverStale(path, owner);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me) + "\n");
    } finally {
      closeSync(fd);
    }
    const release = () => {
      process.off("exit", release);
      const now = readOwner(path);
      if (now?.pid === me.pid && now.start === me.start) rmSync(path, { force: true });
    };
    process.on("exit", release);
    return { path, release };
  }
  throw new StateLockError(`state directory ${dir}: could not take ${path} (another process keeps taking it)`);
}

/** Moves a stale lock aside; if what was moved turns out to be a live lock taken meanwhile, puts it back. */
function takeOverStale(path: string, seen: LockOwner | undefined): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it first: try again
  }
  const moved = readOwner(aside);
  if (moved !== undefined && seen !== undefined && moved.pid !== seen.pid && isAlive(moved)) {
    try {
      renameSync(aside, path);
    } catch {
      /* the path was taken again: the next attempt reports it */
    }
    return;
  }
  try {
    unlinkSync(aside);
  } catch {
    /* already gone */
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
    if (typeof o.pid !== "number" || !Number.isInteger(o.pid) || o.pid <= 0) return undefined;
    return { pid: o.pid, host: typeof o.host === "string" ? o.host : "", start: typeof o.start === "number" ? o.start : null };
  } catch {
    return undefined; // empty or torn (killed while writing it): stale
  }
}

/** Whether the lock's owner still runs: same host, pid alive, and (on Linux) the same process, not a reused pid. */
function isAlive(o: LockOwner): boolean {
  if (o.host !== hostname()) return true; // cannot check another host's processes: assume it runs
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const start = processStart(o.pid);
  return o.start === null || start === null || start === o.start;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot (Linux only). */
function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

/**
 * Opens every existing file of the state for writing and closes it again, so a read-only file
 * (or directory) fails at start with one message instead of at every report.
 */
export function checkStateWritable(files: string[]): void {
  for (const file of files) {
    let fd: number;
    try {
      fd = openSync(file, "r+");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      throw new StateLockError(`${file} is not writable (${code ?? (e as Error).message}): the device keeps its flash and sequence numbers there`);
    }
    closeSync(fd);
  }
}

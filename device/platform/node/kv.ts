/**
 * A key-value store persisted as one JSON file (values base64), written atomically on every
 * change: write a temp file, fsync, rename. A crash leaves either the old or the new file.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { KvError, checkKvEntry, type KeyValueStore } from "../../ports";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class FileKv implements KeyValueStore {
  private readonly entries = new Map<string, Uint8Array>();

  constructor(private readonly path: string) {
    if (!existsSync(path)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new KvError("io", `kv: ${path} is not valid JSON (${(e as Error).message}); move it aside to start fresh`);
    }
    // Anything but an object of base64 strings is damage: refuse it, never start empty (an empty
    // store restarts the sequence numbers at 0 and the backend would drop the new data as duplicates).
    const damaged = (why: string) => new KvError("io", `kv: ${path} is damaged (${why}); the device's identity and sequence numbers are in it: restore it, or move it aside to start fresh`);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw damaged(`expected a JSON object, found ${parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed}`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== "string" || !BASE64.test(v)) throw damaged(`the value of "${k}" is not base64 text`);
      this.entries.set(k, new Uint8Array(Buffer.from(v, "base64")));
    }
  }

  get(key: string): Uint8Array | undefined {
    return this.entries.get(key)?.slice();
  }

  set(key: string, value: Uint8Array): void {
    checkKvEntry(key, value);
    const old = this.entries.get(key);
    this.entries.set(key, value.slice());
    this.persistOrUndo(() => (old === undefined ? this.entries.delete(key) : this.entries.set(key, old)));
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.persistOrUndo(() => this.entries.set(key, old));
  }

  /** Memory and disk never disagree: a failed write is undone and reported as the port's KvError. */
  private persistOrUndo(undo: () => void): void {
    try {
      this.persist();
    } catch (e) {
      undo();
      throw new KvError("io", `kv: cannot write ${this.path}: ${(e as Error).message}`);
    }
  }

  keys(): string[] {
    return [...this.entries.keys()].sort();
  }

  private persist(): void {
    const obj: Record<string, string> = {};
    for (const k of this.keys()) obj[k] = Buffer.from(this.entries.get(k)!).toString("base64");
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, JSON.stringify(obj, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

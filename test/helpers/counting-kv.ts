/** A key-value port that counts what reaches flash: every set and delete is one NVS write. */
import type { KeyValueStore } from "../../device/ports";
import { MemoryKv } from "../../host-sim/virtual/kv";

export class CountingKv implements KeyValueStore {
  sets = 0;
  deletes = 0;
  /** Writes per key prefix (the letters before the first digit), for reports. */
  readonly byPrefix = new Map<string, number>();

  constructor(readonly inner: KeyValueStore = new MemoryKv(64 * 1024)) {}

  get writes(): number {
    return this.sets + this.deletes;
  }
  reset(): void {
    this.sets = this.deletes = 0;
    this.byPrefix.clear();
  }
  private note(key: string): void {
    const p = /^[^0-9]*/.exec(key)![0];
    this.byPrefix.set(p, (this.byPrefix.get(p) ?? 0) + 1);
  }
  get(key: string): Uint8Array | undefined {
    return this.inner.get(key);
  }
  set(key: string, value: Uint8Array): void {
    this.inner.set(key, value);
    this.sets++;
    this.note(key);
  }
  delete(key: string): void {
    this.inner.delete(key);
    this.deletes++;
    this.note(key);
  }
  keys(): string[] {
    return this.inner.keys();
  }
}

/**
 * An in-memory key-value store with the ESP32 NVS limits, so host runs catch what a
 * board would refuse. Values are copied in and out: callers can never alias stored bytes.
 */
import { KvError, checkKvEntry, type KeyValueStore } from "../../device/ports";

/** NVS spends 32 bytes of entry overhead per key; counted against capacity. */
const ENTRY_OVERHEAD = 32;

export class MemoryKv implements KeyValueStore {
  private readonly entries = new Map<string, Uint8Array>();

  constructor(private readonly capacityBytes = 24 * 1024) {}

  get(key: string): Uint8Array | undefined {
    const v = this.entries.get(key);
    return v === undefined ? undefined : v.slice();
  }

  set(key: string, value: Uint8Array): void {
    checkKvEntry(key, value);
    const old = this.entries.get(key);
    const used = this.usedBytes() - (old ? old.length + ENTRY_OVERHEAD : 0);
    if (used + value.length + ENTRY_OVERHEAD > this.capacityBytes) {
      throw new KvError("full", `kv: no room for "${key}" (${value.length} bytes)`);
    }
    this.entries.set(key, value.slice());
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  keys(): string[] {
    return [...this.entries.keys()].sort();
  }

  usedBytes(): number {
    let n = 0;
    for (const v of this.entries.values()) n += v.length + ENTRY_OVERHEAD;
    return n;
  }

  /** Copies every entry (for persisting a virtual device's state). */
  dump(): [string, Uint8Array][] {
    return this.keys().map((k) => [k, this.entries.get(k)!.slice()]);
  }

  static load(entries: Iterable<[string, Uint8Array]>, capacityBytes?: number): MemoryKv {
    const kv = new MemoryKv(capacityBytes);
    for (const [k, v] of entries) kv.set(k, v);
    return kv;
  }
}

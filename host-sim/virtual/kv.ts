/**
 * An in-memory key-value store with the ESP32 NVS limits, so host runs catch what a
 * board would refuse. Values are copied in and out: callers can never alias stored bytes.
 */
import { FlashError, KvError, checkKvEntry, type KeyValueStore } from "../../device/ports";

/** NVS spends 32 bytes of entry overhead per key; counted against capacity. */
const ENTRY_OVERHEAD = 32;

export class MemoryKv implements KeyValueStore {
  private readonly entries = new Map<string, Uint8Array>();
  /** Sum of value lengths + ENTRY_OVERHEAD over entries, kept up to date (a set must not scan the store). */
  private used = 0;
  /**
   * Called before every set and delete is applied; it may throw to stop the write (a power cut
   * in host-sim: SimFlash.nvsOp makes each entry write a cut point, as NVS is flash).
   */
  beforeWrite: ((kind: "nvs-set" | "nvs-delete", key: string, length: number) => void) | undefined;

  constructor(private readonly capacityBytes = 24 * 1024) {}

  get(key: string): Uint8Array | undefined {
    const v = this.entries.get(key);
    return v === undefined ? undefined : v.slice();
  }

  set(key: string, value: Uint8Array): void {
    checkKvEntry(key, value);
    const old = this.entries.get(key);
    const used = this.used - (old ? old.length + ENTRY_OVERHEAD : 0);
    if (used + value.length + ENTRY_OVERHEAD > this.capacityBytes) {
      throw new KvError("full", `kv: no room for "${key}" (${value.length} bytes)`);
    }
    this.nvs("nvs-set", key, value.length);
    this.entries.set(key, value.slice());
    this.used = used + value.length + ENTRY_OVERHEAD;
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.nvs("nvs-delete", key, 0);
    this.entries.delete(key);
    this.used -= old.length + ENTRY_OVERHEAD;
  }

  /** Runs the write hook; a flash I/O error under NVS surfaces as the port's KvError("io"). */
  private nvs(kind: "nvs-set" | "nvs-delete", key: string, length: number): void {
    try {
      this.beforeWrite?.(kind, key, length);
    } catch (e) {
      if (e instanceof FlashError) throw new KvError("io", `kv: ${kind} "${key}" failed: ${e.message}`);
      throw e;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()].sort();
  }

  usedBytes(): number {
    return this.used;
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

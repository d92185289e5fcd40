/**
 * An in-memory key-value store with the ESP32 NVS limits, so host runs catch what a
 * board would refuse. Values are copied in and out: callers can never alias stored bytes.
 */
import { FlashError, KvError, checkKvEntry, type KeyValueStore } from "../../device/ports";

/** NVS spends 32 bytes of entry overhead per key; counted against capacity. */
const ENTRY_OVERHEAD = 32;
/**
 * Values longer than this are stored in buffers the store reuses: V8 keeps a typed array of up to
 * 64 bytes on its heap, but gives a longer one an off-heap ArrayBuffer, which costs far more, and
 * a device writes one such record per telemetry message and deletes it at the PUBACK.
 */
const ON_HEAP_MAX = 64;
/** Reused buffers are sized in steps of this, so the next record (a few bytes longer) fits. */
const SPARE_STEP = 64;
/** Freed buffers kept per store. */
const SPARE_MAX = 2;

export class MemoryKv implements KeyValueStore {
  private readonly entries = new Map<string, Uint8Array>();
  /** Buffers of deleted or replaced values, for the next long value (stored values are never handed out). */
  private readonly spare: ArrayBuffer[] = [];
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
    this.entries.set(key, this.copyIn(value));
    this.used = used + value.length + ENTRY_OVERHEAD;
    if (old !== undefined) this.release(old);
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.nvs("nvs-delete", key, 0);
    this.entries.delete(key);
    this.used -= old.length + ENTRY_OVERHEAD;
    this.release(old);
  }

  /** The stored copy of a value: its own small array, or a view of a reused buffer. */
  private copyIn(value: Uint8Array): Uint8Array {
    const n = value.length;
    if (n <= ON_HEAP_MAX) return value.slice();
    const spare = this.spare;
    let buffer: ArrayBuffer | undefined;
    for (let i = 0; i < spare.length; i++) {
      if (spare[i].byteLength >= n) {
        buffer = spare[i];
        spare[i] = spare[spare.length - 1];
        spare.pop();
        break;
      }
    }
    const copy = new Uint8Array(buffer ?? new ArrayBuffer(Math.ceil(n / SPARE_STEP) * SPARE_STEP), 0, n);
    copy.set(value);
    return copy;
  }

  /** A value is gone from the store: its buffer may hold a later one. */
  private release(old: Uint8Array): void {
    if (old.length > ON_HEAP_MAX && this.spare.length < SPARE_MAX) this.spare.push(old.buffer as ArrayBuffer);
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

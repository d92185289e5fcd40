/**
 * The ports: every effect device/core needs, as plain interfaces.
 *
 * Each port maps onto one Moddable module on ESP32 (named per port below), onto Node
 * in device/platform/node, and onto a deterministic virtual adapter in host-sim.
 * Everything is synchronous where the Moddable module is synchronous, so the same
 * core code runs unchanged under XS and Node. Times are integer milliseconds.
 */
import { setErrorName } from "./core/util/error-name";

// ---------------------------------------------------------------- clock and timers
/** Opaque timer handle. */
export type TimerId = number;

/**
 * Monotonic time since boot plus one-shot timers.
 * Moddable: `Timer.set` / `Timer.clear` from "timer"; `Time.ticks` for now().
 */
export interface Clock {
  /** Milliseconds since boot; never goes backwards; an integer. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds (0 = next turn). */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a pending timer; clearing an unknown or fired id is a no-op. */
  clearTimeout(id: TimerId): void;
}

// ---------------------------------------------------------------- wall clock
/**
 * Calendar time, which is unknown until it has been synced (SNTP on ESP32).
 * Moddable: `Date.now()` after "sntp" has set `Time.set()`.
 */
export interface WallClock {
  /** Unix milliseconds, or undefined while the time has not been synced. */
  now(): number | undefined;
}

// ---------------------------------------------------------------- randomness
/** Moddable: `Math.random` is seeded from the hardware RNG on ESP32; host-sim seeds it. */
export interface Random {
  /** A uniform unsigned 32-bit integer. */
  nextU32(): number;
  /** Fills `bytes` with random bytes. */
  fill(bytes: Uint8Array): void;
}

// ---------------------------------------------------------------- key-value store
/** NVS limits on ESP32; every adapter enforces them so host runs catch violations. */
export const KV_KEY_MAX = 15;
export const KV_VALUE_MAX = 4000;

/**
 * A small persistent key-value store.
 * Moddable: "preference" (domain + key) or `embedded:storage/key-value`, backed by NVS.
 * `set` throws KvError when the key or value breaks the limits or the store is full.
 */
export interface KeyValueStore {
  get(key: string): Uint8Array | undefined;
  set(key: string, value: Uint8Array): void;
  delete(key: string): void;
  keys(): string[];
}

export class KvError extends Error {
  // Recognised by name: in host-sim the agent runs from its own image bundle, with its own copy
  // of this class, while the adapters throw the host's copy. (On a board there is one copy.)
  static override [Symbol.hasInstance](v: unknown): boolean {
    return v instanceof Error && v.name === "KvError";
  }
  constructor(readonly code: "key-too-long" | "value-too-long" | "full" | "io", message: string) {
    super(message);
    setErrorName(this, "KvError");
  }
}

/** Throws KvError when a key or value breaks the NVS limits; every adapter calls it. */
export function checkKvEntry(key: string, value: Uint8Array): void {
  if (key.length === 0 || key.length > KV_KEY_MAX) {
    throw new KvError("key-too-long", `kv: key "${key}" must be 1..${KV_KEY_MAX} characters`);
  }
  if (value.length > KV_VALUE_MAX) {
    throw new KvError("value-too-long", `kv: value for "${key}" is ${value.length} bytes, max ${KV_VALUE_MAX}`);
  }
}

// ---------------------------------------------------------------- flash
/** Partition names, as in manifests/partitions.csv. */
export type PartitionName = "ota_0" | "ota_1" | "otadata" | "storage";

/**
 * One flash partition with NOR semantics: erase sets a whole block to 0xFF, a write can
 * only clear bits (the stored byte becomes old & new), reads return what is stored.
 * Moddable: `embedded:storage/flash` (`read`, `write`, `eraseBlock`, `status().blockLength`).
 * Any method may throw FlashError; a power cut in host-sim stops the device mid-call.
 */
export interface FlashPartition {
  readonly name: PartitionName;
  /** Total bytes. */
  readonly size: number;
  /** Erase unit in bytes (4096 on ESP32). */
  readonly blockSize: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  eraseBlock(index: number): void;
}

export interface Flash {
  /** Opens a partition; throws FlashError("absent") when the layout has none. */
  open(name: PartitionName): FlashPartition;
}

export class FlashError extends Error {
  // Recognised by name: in host-sim the agent runs from its own image bundle, with its own copy
  // of this class, while the adapters throw the host's copy. (On a board there is one copy.)
  static override [Symbol.hasInstance](v: unknown): boolean {
    return v instanceof Error && v.name === "FlashError";
  }
  constructor(readonly code: "absent" | "range" | "io" | "full", message: string) {
    super(message);
    setErrorName(this, "FlashError");
  }
}

// ---------------------------------------------------------------- byte-stream socket
export interface SocketOptions {
  host: string;
  port: number;
  /** Present for mqtts://. `ca` is a PEM certificate (a manifest resource on ESP32). */
  tls?: { ca?: string; servername?: string };
}

/** Callbacks the core hands to `Network.connect`. Each fires on its own turn. */
export interface SocketHandler {
  onConnect(): void;
  onData(bytes: Uint8Array): void;
  /** Fired once: by a peer close, a network error, or after `close()` (reason "closed"). */
  onClose(reason: string): void;
}

/**
 * A byte stream. `write` queues the bytes in the adapter (ECMA-419 sockets can only write
 * from onWritable, so the Moddable adapter buffers) and returns the bytes still queued.
 * Moddable: `embedded:io/socket/tcp`, TLS through "securesocket".
 */
export interface Socket {
  write(bytes: Uint8Array): number;
  close(): void;
}

export interface Network {
  connect(options: SocketOptions, handler: SocketHandler): Socket;
}

// ---------------------------------------------------------------- SHA-256
/** Moddable: `new Digest("SHA256")` from "crypt" (native; images are never hashed in JS on device). */
export interface Sha256Hasher {
  update(bytes: Uint8Array): void;
  /** Ends the hash and returns 32 bytes. */
  digest(): Uint8Array;
}
export interface Sha256 {
  create(): Sha256Hasher;
}

// ---------------------------------------------------------------- battery ADC
/**
 * The battery divider's ADC.
 * Moddable: `embedded:io/analog` (`read()` returns 0..2^resolution-1, `resolution` in bits).
 */
export interface BatteryAdc {
  readonly resolution: number;
  /** Raw counts. */
  read(): number;
  /** mV at full scale after the divider: counts * fullScaleMv / 2^resolution = battery mV. */
  readonly fullScaleMv: number;
  /** Charger status pin(s), where the board has them. */
  chargerState?(): "charging" | "full" | "discharging" | "absent" | undefined;
}

// ---------------------------------------------------------------- sensors
/** Scaled integers so records carry no floats: centi-degrees C, per-mille RH, dBm. */
export interface SensorSample {
  temperatureCentiC?: number;
  humidityPermille?: number;
  rssiDbm?: number;
}
export interface Sensors {
  sample(): SensorSample;
}

// ---------------------------------------------------------------- system
export type ResetReason =
  | "power-on"
  | "software"
  | "watchdog"
  | "panic"
  | "brownout"
  | "deep-sleep"
  | "external"
  | "unknown";

/** Moddable: "system" restart (`restart()`); reset reason via the native binding (esp_reset_reason). */
export interface System {
  restart(): void;
  resetReason(): ResetReason;
}

// ---------------------------------------------------------------- memory
/**
 * The script engine's heaps, sampled now. Moddable: the XS machine's own counters (tether-memory,
 * a small native module). "Used" is what the allocator has handed out, garbage not yet collected
 * included; "free" is what is left before the next collection or an abort on a fixed heap.
 */
export interface MemorySample {
  /** XS heap slots (16 bytes each on the ESP32). */
  slotsUsed: number;
  slotsFree: number;
  /** XS chunk heap bytes (strings, buffers, closures' code). */
  chunkBytesUsed: number;
  chunkBytesFree: number;
}

/** Optional: a runtime that cannot tell (Node, host-sim) has none, and telemetry then carries none. */
export interface MemoryMeter {
  /** The heaps now; undefined when the runtime cannot tell. Never throws. */
  sample(): MemorySample | undefined;
}

// ---------------------------------------------------------------- boot control
export type SlotIndex = 0 | 1;
export type ImageState = "new" | "pending-verify" | "valid" | "invalid" | "aborted" | "undefined";

/**
 * What the bootloader offers the running app (bootloader-spec/SPEC.md).
 * ESP32: esp_ota_* through the native binding; host-sim: the reference bootloader.
 */
export interface BootControl {
  runningSlot(): SlotIndex;
  /** The running image's state; "undefined" when the bootloader has no rollback support. */
  runningState(): ImageState;
  /** Whether the bootloader can roll back at all (esp-idf #7859: it may be built without). */
  rollbackAvailable(): boolean;
  /** Marks `slot` as the next boot, as a trial (pending-verify). */
  setPending(slot: SlotIndex): void;
  /** Confirms the running trial image. */
  markValid(): void;
  /** Marks the running image invalid and restarts into the other slot. */
  markInvalidAndRollback(): void;
  /**
   * The recorded state of either slot (ESP-IDF: esp_ota_get_state_partition: the state of the
   * valid otadata entry that selects the slot, "undefined" when no valid entry selects it).
   * With the reset reason (System.resetReason) and the agent's own NVS attempt record, this is
   * what the agent decides a trial's outcome from after a reboot.
   */
  slotState(slot: SlotIndex): ImageState;
  /**
   * Sequence number of the newest valid boot record (ESP-IDF: the otadata ota_seq; 0 when none).
   * A hint only: ESP-IDF rewrites the active record in place with the same number (mark valid,
   * NEW -> PENDING_VERIFY, PENDING_VERIFY -> ABORTED), and a power cut during such a rewrite can
   * bring the older record back, so an unchanged number does NOT prove that setPending never landed.
   */
  recordSeq(): number;
}

/** markInvalidAndRollback found no valid image to go back to (ESP_ERR_OTA_ROLLBACK_FAILED). */
export class RollbackFailed extends Error {
  // Recognised by name: in host-sim the agent runs from its own image bundle, with its own copy
  // of this class, while the adapters throw the host's copy. (On a board there is one copy.)
  static override [Symbol.hasInstance](v: unknown): boolean {
    return v instanceof Error && v.name === "RollbackFailed";
  }
  constructor(message: string) {
    super(message);
    setErrorName(this, "RollbackFailed");
  }
}

// ---------------------------------------------------------------- log
/** Moddable: `trace()`; Node: the terminal. */
export interface Log {
  (level: "debug" | "info" | "warn" | "error", message: string): void;
}

// ---------------------------------------------------------------- halting the device
/**
 * An adapter stops the device where it stands (host-sim: a power cut inside a flash write, a
 * restart) by throwing an error with `halt === true`. Core catches errors to keep running after
 * bad input, but never swallows one of these: it re-throws them with `rethrowHalt`.
 */
export function isHalt(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { halt?: unknown }).halt === true;
}

export function rethrowHalt(e: unknown): void {
  if (isHalt(e)) throw e;
}

// ---------------------------------------------------------------- all of them
export interface Ports {
  clock: Clock;
  wallClock: WallClock;
  random: Random;
  kv: KeyValueStore;
  flash: Flash;
  network: Network;
  sha256: Sha256;
  battery: BatteryAdc;
  sensors: Sensors;
  system: System;
  boot: BootControl;
  log: Log;
  /** Free heap for telemetry; absent where the runtime cannot tell. */
  memory?: MemoryMeter;
}

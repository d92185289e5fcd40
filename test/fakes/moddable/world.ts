/**
 * The fake ESP32 the Moddable fakes run on: one deterministic world per test/scenario holding
 * the virtual clock, NOR flash, network, NVS, ADC pins, Wi-Fi/SNTP/DNS behaviour and the
 * ESP-IDF OTA boot state. The fake modules (timer.ts, preference.ts, ...) read it at call time,
 * so a test installs a world, then imports and runs the real adapters against it.
 *
 * Runs under XS and Node (no Node APIs): the XS tier bundles it with the adapters.
 */
import { VirtualClock } from "../../../host-sim/virtual/clock";
import { SimFlash, type PartitionLayout } from "../../../host-sim/virtual/flash";
import { VirtualNetwork } from "../../../host-sim/virtual/network";
import { SeededRandom } from "../../../host-sim/virtual/random";
import { BootModel } from "./boot-model";

/** A small ESP32 layout (same names as manifests/esp32/partitions.csv, smaller slots for speed). */
export const TEST_LAYOUT: PartitionLayout[] = [
  { name: "otadata", size: 0x2000 },
  { name: "ota_0", size: 0x10000 },
  { name: "ota_1", size: 0x10000 },
  { name: "storage", size: 0x8000 },
];

/** Thrown out of a turn when the fake chip restarts (System.restart or a rollback). */
export class FakeRestart extends Error {
  /** ports.ts isHalt(): core re-throws it instead of treating it as a failure. */
  readonly halt = true;
  constructor(readonly why: string) {
    super(`fake esp32 restarted: ${why}`);
    this.name = "FakeRestart";
  }
}

export interface NvsOptions {
  /** Bytes of NVS; set fails with "nvs set fail" beyond it (32 bytes overhead per entry). */
  capacity: number;
}

export class FakeWorld {
  readonly clock: VirtualClock;
  readonly flash: SimFlash;
  readonly network: VirtualNetwork;
  readonly boot: BootModel;
  /** NVS: namespace -> key -> value (ArrayBuffer blobs, strings, numbers, booleans). */
  readonly nvs = new Map<string, Map<string, unknown>>();
  nvsCapacity = 24 * 1024;
  /** ADC counts per pin (12-bit on ESP32). */
  readonly analog = new Map<number, number>();
  /** DNS: name -> dotted IPv4. */
  readonly dns = new Map<string, string>();
  /** TLS servers: "host:port" -> the CA (DER) whose certificate they present. */
  readonly tlsServers = new Map<string, Uint8Array>();
  /** Resources in the image (manifest `data`): name -> bytes. */
  readonly resources = new Map<string, Uint8Array>();
  /** mc/config values for this build. */
  readonly config: Record<string, unknown> = {};
  wifi = { ssid: "tether-lab", password: "secret", available: true, rssi: -61 };
  sntp = { available: true, unixSeconds: 1_767_225_600 };
  /** The XS heaps tether-memory reports (the ESP32 manifest's 4,096 slots and 80 KB of chunks). */
  memory = { slotsUsed: 1200, slotsFree: 2896, chunkBytesUsed: 30000, chunkBytesFree: 51920 };
  /** esp_reset_reason() code for the current boot (1 = power-on). */
  resetReason = 1;
  /** Wall time: Date.now() is epochMs + clock.now() once Time.set ran; 0 + ticks before. */
  epochMs = 0;
  /** Everything trace() printed. */
  readonly traces: string[] = [];
  restarts = 0;
  /** Bumped by every restart: timers the previous program set never fire. */
  generation = 0;
  /** Tear-down hooks for live fake objects (sockets, Wi-Fi) run on a restart. */
  readonly onRestart = new Set<() => void>();

  /** Stands in for the hardware RNG behind Math.random, seeded so runs repeat. */
  readonly rng: SeededRandom;

  constructor(options: { layout?: PartitionLayout[]; rollback?: boolean; seedImages?: boolean; clockStart?: number; seed?: number } = {}) {
    this.clock = new VirtualClock(options.clockStart ?? 0);
    this.rng = new SeededRandom(options.seed ?? 1);
    this.flash = new SimFlash(options.layout ?? TEST_LAYOUT);
    this.network = new VirtualNetwork(this.clock);
    this.boot = new BootModel(this.flash, options.rollback ?? true);
    if (options.seedImages ?? true) this.boot.flashFactory(0);
  }

  /** A timer on the chip's side: it dies with the program on a restart (unlike the network's). */
  chipTimeout(fn: () => void, ms: number): number {
    const gen = this.generation;
    return this.clock.setTimeout(() => {
      if (gen === this.generation) fn();
    }, ms);
  }

  /** What System.restart() and esp_restart do: stop the running program and boot again. */
  restart(why: string, resetReason = 3): never {
    this.restarts++;
    this.generation++;
    this.resetReason = resetReason;
    for (const stop of [...this.onRestart]) stop();
    this.onRestart.clear();
    this.boot.bootloader();
    if (this.boot.powerCutAtBoot) this.resetReason = 1; // the bootloader lost power: ESP_RST_POWERON
    throw new FakeRestart(why);
  }
}

let current: FakeWorld | undefined;
let savedDateNow: (() => number) | undefined;
let savedRandom: (() => number) | undefined;
let savedTrace: unknown;
let savedSystem: unknown;

/**
 * Makes `w` the world the fakes use, and installs the device globals: trace, System, Date.now
 * (the RTC) and Math.random (the hardware RNG, seeded here so XS and Node runs match).
 */
export function installWorld(w: FakeWorld): FakeWorld {
  if (current) uninstallWorld();
  current = w;
  const g = globalThis as Record<string, unknown>;
  savedDateNow = Date.now;
  savedRandom = Math.random;
  Math.random = () => w.rng.nextU32() / 0x1_0000_0000;
  savedTrace = g.trace;
  savedSystem = g.System;
  // On the chip, Date.now() is the RTC: epoch 0 at boot until SNTP sets it.
  Date.now = () => w.epochMs + w.clock.now();
  g.trace = (...parts: unknown[]) => {
    w.traces.push(parts.map(String).join(""));
  };
  g.System = { restart: () => w.restart("System.restart") };
  return w;
}

export function uninstallWorld(): void {
  if (!current) return;
  const g = globalThis as Record<string, unknown>;
  if (savedDateNow) Date.now = savedDateNow;
  if (savedRandom) Math.random = savedRandom;
  g.trace = savedTrace;
  g.System = savedSystem;
  current = undefined;
}

export function world(): FakeWorld {
  if (!current) throw new Error("fake moddable: no world installed (call installWorld first)");
  return current;
}

/**
 * The ports of one virtual device in virtual time: a seeded random stream of its own, its own
 * flash, key-value store, battery and sensors, on a clock and network shared with the rest of
 * the simulation. Node-free, so the same assembly runs inside the XS engine.
 */
import type { Log, Ports, ResetReason, SlotIndex } from "../device/ports";
import { SimBattery, type SimBatteryModel } from "./battery/sim-battery";
import { DEFAULT_POWER_COSTS, poweredNetwork, poweredSensors } from "./battery/power";
import { bootModel, type BootModelName } from "./boot/boot-models";
import { SimSensors, type SimSensorProfile } from "./sensors/sim-sensors";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "./layout";
import type { VirtualClock } from "./virtual/clock";
import { SimFlash } from "./virtual/flash";
import { MemoryKv } from "./virtual/kv";
import type { VirtualNetwork } from "./virtual/network";
import { SeededRandom } from "./virtual/random";
import { jsSha256 } from "./virtual/sha256";
import { VirtualSystem } from "./virtual/system";
import { VirtualWallClock } from "./virtual/wall-clock";

/** What survives a reboot: the device's non-volatile state. */
export interface DeviceStorage {
  flash: SimFlash;
  kv: MemoryKv;
}

export interface VirtualDeviceSpec {
  seed: number;
  clock: VirtualClock;
  network: VirtualNetwork;
  /** Non-volatile state; new blank storage when absent. */
  storage?: DeviceStorage;
  wallClock?: VirtualWallClock;
  batteryModel?: Partial<SimBatteryModel>;
  sensorProfile?: SimSensorProfile;
  resetReason?: ResetReason;
  slot?: SlotIndex;
  rollback?: boolean;
  /** Whose boot records the BootControl port reads and writes: the reference's (default) or ESP-IDF's otadata. */
  bootModel?: BootModelName;
  onRestart?: () => void;
  log?: Log;
}

export interface VirtualDevicePorts {
  ports: Ports;
  storage: DeviceStorage;
  battery: SimBattery;
  sensors: SimSensors;
  wallClock: VirtualWallClock;
  system: VirtualSystem;
}

export function blankStorage(): DeviceStorage {
  return { flash: new SimFlash(ESP32_4MB_LAYOUT, { blockSize: FLASH_BLOCK_SIZE }), kv: new MemoryKv() };
}

const silent: Log = () => {};

export function virtualDevicePorts(spec: VirtualDeviceSpec): VirtualDevicePorts {
  const random = new SeededRandom(spec.seed);
  const storage = spec.storage ?? blankStorage();
  const wallClock = spec.wallClock ?? new VirtualWallClock(spec.clock);
  const battery = new SimBattery(spec.clock, random.fork("battery"), spec.batteryModel);
  const sensors = new SimSensors(spec.clock, random.fork("sensors"), spec.sensorProfile);
  const system = new VirtualSystem(spec.resetReason ?? "power-on", spec.onRestart ?? (() => {}));
  const ports: Ports = {
    clock: spec.clock,
    wallClock,
    random: random.fork("agent"),
    kv: storage.kv,
    flash: storage.flash,
    // What the device does costs charge: connects, transmits and sensor wake-ups drain the cell.
    // A paced network's rate is the radio's: the power model charges the same airtime.
    network: poweredNetwork(spec.network, battery, spec.network.rateBps > 0 ? { ...DEFAULT_POWER_COSTS, rateBps: spec.network.rateBps } : DEFAULT_POWER_COSTS),
    sha256: jsSha256,
    battery,
    sensors: poweredSensors(sensors, battery),
    system,
    boot: bootModel(spec.bootModel).control(storage.flash, jsSha256, { slot: spec.slot ?? 0, rollback: spec.rollback ?? true }, () => system.restart()),
    log: spec.log ?? silent,
  };
  return { ports, storage, battery, sensors, wallClock, system };
}

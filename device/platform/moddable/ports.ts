/** Builds the Ports record from the Moddable adapters (one adapter per port). */
import { resource } from "tether-esp";
import type { Ports } from "../../ports";
import { AnalogBattery } from "./battery";
import { EspBootControl } from "./boot";
import { ModdableClock } from "./clock";
import type { DeviceConfig } from "./config";
import { ModdableFlash } from "./flash";
import { PreferenceKv } from "./kv";
import { createTraceLog } from "./log";
import { ModdableNetwork } from "./network";
import { ModdableRandom } from "./random";
import { NetSensors } from "./sensors";
import { moddableSha256 } from "./sha256";
import { EspSystem } from "./system";
import { XsMemoryMeter } from "./memory";
import { ModdableWallClock } from "./wall-clock";

/** The broker CA as DER bytes, from the manifest's data resources; undefined if not bundled. */
export function loadCa(name: string): ArrayBuffer | undefined {
  return resource(name);
}

export function buildPorts(config: DeviceConfig): Ports & { system: EspSystem } {
  const clock = new ModdableClock();
  const boot = new EspBootControl();
  const log = createTraceLog();
  return {
    clock,
    wallClock: new ModdableWallClock(),
    random: new ModdableRandom(),
    kv: new PreferenceKv(),
    flash: new ModdableFlash(() => boot.runningSlot()),
    network: new ModdableNetwork(clock, { defaultCa: loadCa(config.caResource) }),
    sha256: moddableSha256,
    battery: new AnalogBattery({ pin: config.batteryPin, fullScaleMv: config.batteryFullScaleMv }),
    sensors: new NetSensors(),
    system: new EspSystem(log),
    boot,
    log,
    memory: new XsMemoryMeter(),
  };
}

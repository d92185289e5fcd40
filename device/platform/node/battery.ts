/**
 * The battery ADC port over Linux sysfs (/sys/class/power_supply/<name>/), so a host with a
 * real battery — a laptop, a Raspberry Pi with a fuel gauge — can run the agent on its own cell.
 * voltage_now is in µV; the port speaks ADC counts, so this adapter presents a 14-bit ADC with
 * a 16384 mV full scale: one count is exactly one millivolt, up to a 3S pack.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { BatteryAdc } from "../../ports";

export const SYSFS_POWER_SUPPLY = "/sys/class/power_supply";
const RESOLUTION = 14;
const FULL_SCALE_MV = 16384; // 2^14 counts × 1 mV

/** The first power supply of type "Battery" under `root`, or undefined when there is none. */
export function findSysfsBattery(root = SYSFS_POWER_SUPPLY): string | undefined {
  if (!existsSync(root)) return undefined;
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (readTrimmed(join(dir, "type")) === "Battery" && existsSync(join(dir, "voltage_now"))) return dir;
  }
  return undefined;
}

export class SysfsBattery implements BatteryAdc {
  readonly resolution = RESOLUTION;
  readonly fullScaleMv = FULL_SCALE_MV;

  constructor(private readonly dir: string) {}

  read(): number {
    const uv = Number(readTrimmed(join(this.dir, "voltage_now")));
    if (!Number.isFinite(uv) || uv < 0) throw new Error(`battery: ${this.dir}/voltage_now is not a voltage`);
    return Math.min(2 ** RESOLUTION - 1, Math.round(uv / 1000));
  }

  chargerState(): "charging" | "full" | "discharging" | "absent" | undefined {
    if (readTrimmed(join(this.dir, "present")) === "0") return "absent";
    switch (readTrimmed(join(this.dir, "status"))) {
      case "Charging":
        return "charging";
      case "Full":
        return "full";
      case "Discharging":
      case "Not charging":
        return "discharging";
      default:
        return undefined;
    }
  }
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

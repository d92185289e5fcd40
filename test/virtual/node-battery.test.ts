import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/temp";
import { adcToMillivolts } from "../../device/core/battery/soc";
import { SysfsBattery, findSysfsBattery } from "../../device/platform/node/battery";

/** A power_supply tree laid out as the Linux kernel does (Documentation/ABI/testing/sysfs-class-power). */
function sysfs(supplies: Record<string, Record<string, string>>): string {
  const root = tempDir("tether-sysfs-");
  for (const [name, files] of Object.entries(supplies)) {
    mkdirSync(join(root, name));
    for (const [f, v] of Object.entries(files)) writeFileSync(join(root, name, f), `${v}\n`);
  }
  return root;
}

describe("SysfsBattery (Node battery port)", () => {
  it("finds the first battery, skipping mains supplies", () => {
    const root = sysfs({ AC: { type: "Mains", online: "1" }, BAT1: { type: "Battery", voltage_now: "3900000" }, BAT0: { type: "Battery", voltage_now: "4000000" } });
    expect(findSysfsBattery(root)).toBe(join(root, "BAT0"));
    expect(findSysfsBattery(join(root, "nowhere"))).toBeUndefined();
  });

  it("reads µV as counts that the core turns back into exact millivolts", () => {
    const root = sysfs({ BAT0: { type: "Battery", voltage_now: "3871400", status: "Discharging", present: "1" } });
    const bat = new SysfsBattery(join(root, "BAT0"));
    expect(adcToMillivolts(bat.read(), bat.resolution, bat.fullScaleMv)).toBe(3871);
    expect(bat.chargerState()).toBe("discharging");
  });

  it("maps charger states and reports bad files as errors, not garbage", () => {
    const root = sysfs({
      A: { type: "Battery", voltage_now: "4200000", status: "Full" },
      B: { type: "Battery", voltage_now: "4100000", status: "Charging" },
      C: { type: "Battery", voltage_now: "oops", present: "0" },
    });
    expect(new SysfsBattery(join(root, "A")).chargerState()).toBe("full");
    expect(new SysfsBattery(join(root, "B")).chargerState()).toBe("charging");
    const c = new SysfsBattery(join(root, "C"));
    expect(c.chargerState()).toBe("absent");
    expect(() => c.read()).toThrowError(/not a voltage/);
  });
});

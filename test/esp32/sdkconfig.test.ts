/**
 * manifests/esp32/sdkconfig as an ESP32 build really gets it: merged into Moddable's base the way
 * mcconfig merges it, then read the way ESP-IDF reads it (both modelled in sdkconfig-model.ts).
 * The checks are on the effective values, not on the text of our file.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/build.mjs";
import { loadSdkconfig, mergeSdkconfig } from "./sdkconfig-model";

const APP_DIR = path.join(repoRoot, "manifests", "esp32", "sdkconfig");
const FIXTURES = path.join(repoRoot, "test", "esp32", "fixtures");
const read = (p: string) => fs.readFileSync(p, "utf8");
const SDK_BASE_DIR = process.env.MODDABLE ? path.join(process.env.MODDABLE, "build", "devices", "esp32", "xsProj-esp32") : undefined;
const haveSdk = SDK_BASE_DIR !== undefined && fs.existsSync(path.join(SDK_BASE_DIR, "sdkconfig.defaults"));

function effective(debug: boolean, base = read(path.join(FIXTURES, "moddable-base.sdkconfig")), baseRelease = read(path.join(FIXTURES, "moddable-base-release.sdkconfig"))) {
  const merged = mergeSdkconfig({
    base,
    baseRelease,
    app: read(path.join(APP_DIR, "sdkconfig.defaults")),
    appRelease: read(path.join(APP_DIR, "sdkconfig.defaults.release")),
    debug,
  });
  return { merged, ...loadSdkconfig(merged) };
}

/** What Tether needs from every build, debug and release. */
function expectTetherSettings(values: Record<string, unknown>, flashSymbol = "ESPTOOLPY_FLASHSIZE_4MB"): void {
  expect(values.BOOTLOADER_APP_ROLLBACK_ENABLE, "rollback").toBe(true);
  expect(values.BOOTLOADER_APP_ANTI_ROLLBACK).toBe(false);
  // The bootloader validates the image (checksum, appended SHA-256) on every boot.
  expect(values.BOOTLOADER_SKIP_VALIDATE_ALWAYS, "skip validate always").toBe(false);
  expect(values.BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON, "skip validate on power on").toBe(false);
  expect(values.ESP_TASK_WDT_EN, "task watchdog").toBe(true);
  expect(values.ESP_TASK_WDT_INIT).toBe(true);
  expect(values.ESP_TASK_WDT_TIMEOUT_S).toBe(20);
  expect(values.ESP_TASK_WDT_PANIC).toBe(true);
  expect(values.ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0).toBe(false);
  expect(values.ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1).toBe(false);
  expect(values.ESP_ERR_TO_NAME_LOOKUP, "error names").toBe(true);
  expect(values.PARTITION_TABLE_CUSTOM).toBe(true);
  expect(values[flashSymbol], flashSymbol).toBe(true);
  expect(values.SPI_FLASH_YIELD_DURING_ERASE).toBe(true);
}

describe("the Moddable sdkconfig merge, modelled", () => {
  it("drops # lines, writes n as an empty value that ESP-IDF ignores, appends names the base lacks, last assignment wins", () => {
    const base = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=5\n";
    const merged = mergeSdkconfig({ base, app: "# CONFIG_A is not set\nCONFIG_B=y\nCONFIG_C=6\nCONFIG_D=n\n", debug: true });
    expect(merged).toBe("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=6\n\nCONFIG_B=y\nCONFIG_D=n\n");
    expect(mergeSdkconfig({ base, app: "CONFIG_A=n", debug: true })).toBe("CONFIG_A=\n# CONFIG_B is not set\nCONFIG_C=5\n");
    // Release files are merged only in a release build.
    expect(mergeSdkconfig({ base, app: "", appRelease: "CONFIG_C=7", debug: true })).toBe(base);
    expect(mergeSdkconfig({ base, app: "", appRelease: "CONFIG_C=7", debug: false })).toBe("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=7\n");
  });

  it("reads it as ESP-IDF does: old names renamed, dependencies applied, an empty bool ignored", () => {
    const r = loadSdkconfig("# CONFIG_ESP_TASK_WDT_EN is not set\nCONFIG_ESP_TASK_WDT=y\nCONFIG_ESP_TASK_WDT_TIMEOUT_S=20\nCONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS=\n");
    // The old name is ESP_TASK_WDT_INIT now, and INIT depends on EN: nothing is on.
    expect(r.values.ESP_TASK_WDT_INIT).toBe(false);
    expect(r.values.ESP_TASK_WDT_TIMEOUT_S).toBeUndefined();
    expect(r.values.BOOTLOADER_SKIP_VALIDATE_ALWAYS).toBe(false);
    expect(r.warnings).toEqual(["'' is not a valid value for the bool symbol BOOTLOADER_SKIP_VALIDATE_ALWAYS. Assignment ignored."]);
    // SKIP_VALIDATE_ALWAYS selects the power-on skip.
    expect(loadSdkconfig("CONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS=y\n").values.BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON).toBe(true);
    // Moddable's base alone: watchdog off, error names off, validation skipped.
    const base = loadSdkconfig(read(path.join(FIXTURES, "moddable-base.sdkconfig"))).values;
    expect([base.ESP_TASK_WDT_EN, base.ESP_ERR_TO_NAME_LOOKUP, base.BOOTLOADER_SKIP_VALIDATE_ALWAYS]).toEqual([false, false, true]);
  });
});

describe("manifests/esp32/sdkconfig, merged into Moddable's base", () => {
  it("never carries a setting on a # line (the merge drops it)", () => {
    for (const f of fs.readdirSync(APP_DIR)) {
      for (const line of read(path.join(APP_DIR, f)).split("\n")) expect(line, `${f}: write CONFIG_X=n`).not.toMatch(/^#\s*CONFIG_\w+ is not set/);
    }
  });

  it("gives a debug build rollback, image validation, the task watchdog and error names", () => {
    expectTetherSettings(effective(true).values);
  });

  it("gives a release build the same, and panics that reboot", () => {
    const r = effective(false);
    expectTetherSettings(r.values);
    expect(r.values.ESP_SYSTEM_PANIC_PRINT_REBOOT).toBe(true);
  });

  it.skipIf(!haveSdk)("matches the SDK's own base files ($MODDABLE set: by hand, not in CI)", () => {
    const sdkBase = read(path.join(SDK_BASE_DIR!, "sdkconfig.defaults"));
    for (const line of read(path.join(FIXTURES, "moddable-base.sdkconfig")).split("\n")) {
      if (line && !line.startsWith("# Excerpt") && !line.startsWith("# that") && !line.startsWith("# checks")) expect(sdkBase.split("\n"), line).toContain(line);
    }
    const sdkRelease = read(path.join(SDK_BASE_DIR!, "sdkconfig.defaults.release"));
    for (const debug of [true, false]) expectTetherSettings(effective(debug, sdkBase, sdkRelease).values);
  });
});

describe("manifests/esp32/8mb/sdkconfig (the 8 MB layout)", () => {
  const DIR_8MB = path.join(repoRoot, "manifests", "esp32", "8mb", "sdkconfig");
  const FLASH_LINE = /^CONFIG_ESPTOOLPY_FLASHSIZE(_\dMB=y|="\dMB")$/;
  const settings = (text: string) => text.split("\n").filter((l) => l.startsWith("CONFIG_") && !FLASH_LINE.test(l));

  it("sets exactly what the 4 MB files set, but for the flash size", () => {
    expect(fs.readdirSync(DIR_8MB).sort()).toEqual(fs.readdirSync(APP_DIR).sort());
    for (const f of fs.readdirSync(APP_DIR)) expect(settings(read(path.join(DIR_8MB, f))), f).toEqual(settings(read(path.join(APP_DIR, f))));
    const defaults = read(path.join(DIR_8MB, "sdkconfig.defaults"));
    expect(defaults).toContain("CONFIG_ESPTOOLPY_FLASHSIZE_8MB=y\n");
    expect(defaults).not.toContain("FLASHSIZE_4MB");
  });

  it("selects 8 MB after the merge: appended after the base's 4 MB choice, and the last y of a choice wins", () => {
    // ESP-IDF's loader (esp-idf-kconfig esp_kconfiglib/core.py, Symbol.set_value) makes each
    // choice symbol set to y the choice's user selection, so the later line wins.
    for (const debug of [true, false]) {
      const merged = mergeSdkconfig({
        base: read(path.join(FIXTURES, "moddable-base.sdkconfig")),
        baseRelease: read(path.join(FIXTURES, "moddable-base-release.sdkconfig")),
        app: read(path.join(DIR_8MB, "sdkconfig.defaults")),
        appRelease: read(path.join(DIR_8MB, "sdkconfig.defaults.release")),
        debug,
      });
      const lines = merged.split("\n");
      const last = lines.findLastIndex((l) => /^CONFIG_ESPTOOLPY_FLASHSIZE_\dMB=y$/.test(l));
      expect(lines[last]).toBe("CONFIG_ESPTOOLPY_FLASHSIZE_8MB=y");
      expectTetherSettings(loadSdkconfig(merged).values, "ESPTOOLPY_FLASHSIZE_8MB");
    }
  });
});

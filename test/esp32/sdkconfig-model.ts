/**
 * What an ESP32 build really gets from manifests/esp32/sdkconfig, modelled in two steps from the
 * sources of the tools that do it (CI has neither, so both are models; test/esp32/manifest.test.ts
 * checks the result, and with $MODDABLE set it also runs the model on the SDK's own base files):
 *
 * 1. Moddable's merge: tools/mcmanifest.js, `generateConfigurationRules` ("Merge differences"),
 *    Moddable SDK 8.2.3 (commit 48ee02d). The base is build/devices/esp32/xsProj-esp32/
 *    sdkconfig.defaults; a release build first merges that directory's sdkconfig.defaults.release,
 *    then the app's sdkconfig.defaults and (release) sdkconfig.defaults.release. Every merged line
 *    that is empty or starts with `#` is dropped. `NAME=value` replaces the first `NAME=...` in the
 *    base (found with indexOf, replaced with the regex `NAME=.*`), and a value `n` is written as
 *    `NAME=` (empty); a name with no `NAME=` in the base is appended as `NAME=value`. The result is
 *    sdkconfig.mc, which ESP-IDF receives as SDKCONFIG_DEFAULTS (tools/mcconfig/make.esp32.mk).
 * 2. ESP-IDF's reading of it: esp-idf-kconfig, esp_kconfiglib/core.py `Kconfig._load_config`:
 *    `CONFIG_X=v` and `# CONFIG_X is not set` (= n) assign, a later assignment wins, a bool value
 *    that does not start with y or n (the merge's empty `CONFIG_X=`) is "Assignment ignored", and
 *    names in sdkconfig.rename map to their new symbol. Then the Kconfig definitions below (ESP-IDF
 *    v6.0, the version Moddable 8.2.3 builds with) give defaults, dependencies and selects.
 */

/** Moddable's merge (step 1). `release` files are merged only for a release build. */
export function mergeSdkconfig(o: { base: string; baseRelease?: string; app: string; appRelease?: string; debug: boolean }): string {
  let base = o.base;
  const lines = (text: string | undefined) => (text === undefined ? [] : text.split(/[\r\n]+/));
  const merged = o.debug ? lines(o.app) : [...lines(o.baseRelease), ...lines(o.app), ...lines(o.appRelease)];
  let appended = false;
  for (const option of merged) {
    if (!option.length || option.charAt(0) === "#") continue;
    const parts = option.split("=");
    const name = parts[0];
    let value = parts[1];
    let start = base.indexOf(name + "=");
    if (start !== -1) {
      start += name.length + 1;
      let end = start;
      while (end < base.length && base.charAt(end) !== "\n" && base.charAt(end) !== "\r") end++;
      if (base.slice(start, end) !== value) {
        if (value === "n") value = "";
        base = base.replace(new RegExp(name + "=.*"), name + "=" + value);
      }
    } else {
      if (!appended) {
        base += "\n";
        appended = true;
      }
      base += name + "=" + value + "\n";
    }
  }
  return base;
}

type Value = boolean | number | string;
interface Symbol {
  type: "bool" | "int" | "string";
  default: Value;
  /** All must be true (a leading `!` negates). */
  depends?: string[];
  selects?: string[];
}

/**
 * The ESP-IDF v6.0 Kconfig symbols Tether relies on (components/esp_system/Kconfig,
 * components/esp_common/Kconfig, components/bootloader/Kconfig.projbuild,
 * components/partition_table/Kconfig.projbuild, components/spi_flash/Kconfig).
 * Choice members are treated as plain bools: only their explicit assignments are checked.
 */
export const KCONFIG: Record<string, Symbol> = {
  ESP_TASK_WDT_EN: { type: "bool", default: true },
  ESP_TASK_WDT_INIT: { type: "bool", default: true, depends: ["ESP_TASK_WDT_EN"] },
  ESP_TASK_WDT_PANIC: { type: "bool", default: false, depends: ["ESP_TASK_WDT_INIT"] },
  ESP_TASK_WDT_TIMEOUT_S: { type: "int", default: 5, depends: ["ESP_TASK_WDT_INIT"] },
  ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0: { type: "bool", default: true, depends: ["ESP_TASK_WDT_INIT"] },
  ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1: { type: "bool", default: true, depends: ["ESP_TASK_WDT_INIT", "!FREERTOS_UNICORE"] },
  FREERTOS_UNICORE: { type: "bool", default: false },
  ESP_ERR_TO_NAME_LOOKUP: { type: "bool", default: true },
  BOOTLOADER_APP_ROLLBACK_ENABLE: { type: "bool", default: false },
  BOOTLOADER_APP_ANTI_ROLLBACK: { type: "bool", default: false, depends: ["BOOTLOADER_APP_ROLLBACK_ENABLE"] },
  SECURE_SIGNED_ON_BOOT: { type: "bool", default: false },
  BOOTLOADER_SKIP_VALIDATE_ALWAYS: {
    type: "bool",
    default: false,
    depends: ["!SECURE_SIGNED_ON_BOOT"],
    selects: ["BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP", "BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON"],
  },
  BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON: { type: "bool", default: false, depends: ["!SECURE_SIGNED_ON_BOOT"] },
  BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP: { type: "bool", default: false },
  PARTITION_TABLE_CUSTOM: { type: "bool", default: false },
  ESPTOOLPY_FLASHSIZE_4MB: { type: "bool", default: false },
  ESPTOOLPY_FLASHSIZE_8MB: { type: "bool", default: false },
  SPI_FLASH_YIELD_DURING_ERASE: { type: "bool", default: true },
  ESP_SYSTEM_PANIC_PRINT_REBOOT: { type: "bool", default: false },
};

/** ESP-IDF v6.0 components/esp_system/sdkconfig.rename: old names the loader maps to new ones. */
export const RENAMED: Record<string, string> = {
  TASK_WDT: "ESP_TASK_WDT_INIT",
  ESP_TASK_WDT: "ESP_TASK_WDT_INIT",
  TASK_WDT_PANIC: "ESP_TASK_WDT_PANIC",
  TASK_WDT_TIMEOUT_S: "ESP_TASK_WDT_TIMEOUT_S",
  TASK_WDT_CHECK_IDLE_TASK_CPU0: "ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0",
  TASK_WDT_CHECK_IDLE_TASK_CPU1: "ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1",
};

export interface LoadedConfig {
  /** Effective values of the KCONFIG symbols (undefined: an int whose dependencies are off). */
  values: Record<string, Value | undefined>;
  /** Loader warnings, as esp-idf-kconfig words them. */
  warnings: string[];
}

/** ESP-IDF's reading of sdkconfig.mc (step 2), for the KCONFIG symbols. */
export function loadSdkconfig(text: string): LoadedConfig {
  const user = new Map<string, Value>();
  const warnings: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    let name: string;
    let val: string;
    const set = /^CONFIG_([^=]+)=(.*)$/.exec(line);
    const unset = /^# CONFIG_([^ ]+) is not set$/.exec(line);
    if (set) [, name, val] = set;
    else if (unset) [name, val] = [unset[1], "n"];
    else continue;
    name = RENAMED[name] ?? name;
    const sym = KCONFIG[name];
    if (!sym) continue;
    if (sym.type === "bool") {
      if (!/^[yn]/.test(val)) {
        warnings.push(`'${val}' is not a valid value for the bool symbol ${name}. Assignment ignored.`);
        continue;
      }
      user.set(name, val[0] === "y");
    } else if (sym.type === "int") user.set(name, Number(val));
    else user.set(name, val.replace(/^"|"$/g, ""));
  }
  const values: Record<string, Value | undefined> = {};
  const selected = new Set<string>();
  const evaluate = (name: string): Value | undefined => {
    if (name in values) return values[name];
    const sym = KCONFIG[name];
    const depsOn = (sym.depends ?? []).every((d) => (d.startsWith("!") ? !evaluate(d.slice(1)) : evaluate(d) === true));
    let v: Value | undefined = depsOn ? (user.get(name) ?? sym.default) : sym.type === "bool" ? false : undefined;
    if (sym.type === "bool" && selected.has(name)) v = true;
    values[name] = v;
    return v;
  };
  // Selects first: a selected bool is on whatever its own assignment says.
  for (const [name, sym] of Object.entries(KCONFIG)) if (sym.selects && evaluate(name) === true) for (const s of sym.selects) selected.add(s);
  for (const s of selected) delete values[s];
  for (const name of Object.keys(KCONFIG)) evaluate(name);
  return { values, warnings };
}

/** An sdkconfig.h as ESP-IDF writes it, for the KCONFIG symbols (for the native module's checks). */
export function sdkconfigHeader(values: Record<string, Value | undefined>): string {
  const out = ["/* generated from the modelled sdkconfig */"];
  for (const [name, v] of Object.entries(values)) {
    if (v === true) out.push(`#define CONFIG_${name} 1`);
    else if (typeof v === "number") out.push(`#define CONFIG_${name} ${v}`);
    else if (typeof v === "string") out.push(`#define CONFIG_${name} "${v}"`);
  }
  return out.join("\n") + "\n";
}

/**
 * device/platform/moddable/native/tether-esp.c without ESP-IDF:
 * - a syntax check against the real Moddable xsmc.h and a stub ESP-IDF tree laid out as ESP-IDF
 *   v6.0 lays out its headers (components/<component>/include/...), with only the include roots
 *   Moddable's generated makefile adds: a header reachable only through a root Moddable does not
 *   add (components/app_update/include) fails here as it fails in the real build;
 * - its host functions run against a scripted ESP-IDF (harness.c) with a recording xsmc.h.
 * The sdkconfig.h both use is generated from the modelled sdkconfig merge (sdkconfig-model.ts).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/build.mjs";
import { tempDir } from "../helpers/temp";
import { loadSdkconfig, mergeSdkconfig, sdkconfigHeader } from "./sdkconfig-model";

const NATIVE = path.join(repoRoot, "device", "platform", "moddable", "native");
const HERE = path.join(repoRoot, "test", "esp32", "native");
const IDF_STUB = path.join(HERE, "idf");
/** The real Moddable XS headers, as @agoric/xsnap ships them (xs/includes/xsmc.h, xs.h). */
const XS_INCLUDES = path.join(repoRoot, "node_modules", "@agoric", "xsnap", "moddable", "xs", "includes");

/**
 * The ESP-IDF include roots that Moddable SDK 8.2.3's tools/mcconfig/make.esp32.mk (INC_DIRS,
 * DRIVER_DIRS) adds for an esp32 build and that tether-esp.c's headers need, relative to
 * $(IDF_PATH). components/app_update/include is not among them.
 */
export const MODDABLE_IDF_INCLUDE_ROOTS = [
  "components",
  "components/bootloader_support/include",
  "components/esp_app_format/include",
  "components/esp_blockdev/include",
  "components/esp_bootloader_format/include",
  "components/esp_common/include",
  "components/esp_partition/include",
  "components/esp_rom/include",
  "components/esp_system/include",
  "components/soc/$(ESP32_SUBCLASS)/include",
];

function sdkconfigFor(app: string): string {
  const fixtures = path.join(repoRoot, "test", "esp32", "fixtures");
  const merged = mergeSdkconfig({ base: fs.readFileSync(path.join(fixtures, "moddable-base.sdkconfig"), "utf8"), app, debug: true });
  return sdkconfigHeader(loadSdkconfig(merged).values);
}
const OUR_SDKCONFIG = () => fs.readFileSync(path.join(repoRoot, "manifests", "esp32", "sdkconfig", "sdkconfig.defaults"), "utf8");

/** A directory with sdkconfig.h and mc.defines.h as mcconfig and ESP-IDF would generate them. */
function generated(sdkconfigH: string): string {
  const dir = tempDir("tether-native-");
  fs.writeFileSync(path.join(dir, "sdkconfig.h"), sdkconfigH);
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "manifests", "esp32", "agent.json"), "utf8"));
  const defines = Object.entries(manifest.defines.tether as Record<string, number>).map(([k, v]) => `#define MODDEF_TETHER_${k.toUpperCase()} (${v})`);
  fs.writeFileSync(path.join(dir, "mc.defines.h"), defines.join("\n") + "\n");
  return dir;
}

const idfIncludes = () => MODDABLE_IDF_INCLUDE_ROOTS.map((r) => `-I${path.join(IDF_STUB, r.replace("$(ESP32_SUBCLASS)", "esp32"))}`);

function gcc(args: string[]) {
  const r = spawnSync("cc", args, { encoding: "utf8" });
  if (r.error) throw new Error(`cc: ${r.error.message} (a C compiler is needed, as for xsnap)`);
  return r;
}

/** gcc -fsyntax-only on tether-esp.c. `-include stddef.h`: on the device newlib's errno.h (xs.h) brings size_t; glibc's does not. */
function syntaxCheck(gen: string) {
  return gcc(["-fsyntax-only", "-Wall", "-Werror", "-include", "stddef.h", `-I${XS_INCLUDES}`, `-I${path.join(HERE, "moddable")}`, ...idfIncludes(), `-I${gen}`, path.join(NATIVE, "tether-esp.c")]);
}

describe("tether-esp.c against ESP-IDF's header layout", () => {
  it("compiles with only the include roots Moddable's makefile adds", () => {
    const r = syntaxCheck(generated(sdkconfigFor(OUR_SDKCONFIG())));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("would not compile with esp_ota_ops.h by file name (its directory is not an include root)", () => {
    const gen = generated(sdkconfigFor(OUR_SDKCONFIG()));
    const flat = path.join(gen, "flat.c");
    fs.writeFileSync(flat, '#include "esp_ota_ops.h"\n');
    const r = gcc(["-fsyntax-only", ...idfIncludes(), `-I${gen}`, flat]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/esp_ota_ops\.h: No such file/);
  });

  it("refuses to build when the merged sdkconfig lacks bootloader rollback", () => {
    const r = syntaxCheck(generated(sdkconfigFor(OUR_SDKCONFIG().replace("CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y", ""))));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Tether: CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE is not set");
  });

  it.skipIf(!process.env.MODDABLE)("uses only include roots that the SDK's make.esp32.mk really adds ($MODDABLE set: by hand)", () => {
    const mk = fs.readFileSync(path.join(process.env.MODDABLE!, "tools", "mcconfig", "make.esp32.mk"), "utf8");
    const roots = new Set([...mk.matchAll(/\$\(IDF_PATH\)\/(\S+?)\/?\s*\\?$/gm)].map((m) => m[1]));
    for (const r of MODDABLE_IDF_INCLUDE_ROOTS) expect(roots, r).toContain(r);
    expect(roots).not.toContain("components/app_update/include");
  });

  it.skipIf(!process.env.IDF_PATH)("places each stub header where ESP-IDF has it ($IDF_PATH set: by hand)", () => {
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const f of walk(IDF_STUB)) expect(fs.existsSync(path.join(process.env.IDF_PATH!, path.relative(IDF_STUB, f))), path.relative(IDF_STUB, f)).toBe(true);
  });
});

describe("tether-esp.c host functions on a scripted ESP-IDF", () => {
  function runHarness(sdkconfigH: string): Record<string, { integer?: number; number?: number; boolean?: number; error?: string }> {
    const gen = generated(sdkconfigH);
    const exe = path.join(gen, "harness");
    const c = gcc(["-Wall", "-Werror", "-include", "stddef.h", `-I${path.join(HERE, "mock-xs")}`, `-I${path.join(HERE, "moddable")}`, ...idfIncludes(), `-I${gen}`, "-o", exe, path.join(HERE, "harness.c"), path.join(NATIVE, "tether-esp.c")]);
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
    const r = spawnSync(exe, { encoding: "utf8" });
    expect(r.status).toBe(0);
    return Object.fromEntries(r.stdout.trim().split("\n").map((l) => { const j = JSON.parse(l); return [j.case, j]; }));
  }

  it("maps the running partition to a slot; the test-app partition (OTA_MAX) is none", () => {
    const r = runHarness(sdkconfigFor(OUR_SDKCONFIG()));
    expect(r["running-ota1"].integer).toBe(1);
    expect(r["running-test-app"].integer).toBe(-1);
    expect(r["record-seq-skips-bad-crc"].number).toBe(7);
    expect(r["rollback-enabled"].boolean).toBe(1);
  });

  it("throws errors with the esp_err_t name and number", () => {
    const r = runHarness(sdkconfigFor(OUR_SDKCONFIG()));
    expect(r["rollback-failed"].error).toBe("Error: ESP_ERR_OTA_ROLLBACK_FAILED (0x1505)");
    expect(r["set-boot-invalid-image"].error).toBe("Error: ESP_ERR_OTA_VALIDATE_FAILED (0x1503)");
    expect(r["set-boot-running"].error).toBe("Error: slot is running");
    expect(r["set-boot-bad-slot"].error).toMatch(/^RangeError: slot must be 0 or 1/);
  });

  it("still says which error without the name table (Moddable's base)", () => {
    const r = runHarness(sdkconfigFor(OUR_SDKCONFIG().replace("CONFIG_ESP_ERR_TO_NAME_LOOKUP=y", "")));
    expect(r["rollback-failed"].error).toBe("Error: UNKNOWN ERROR (0x1505)");
  });
});

describe("tether-memory.c (native/memory) against the real XS internals", () => {
  const X = path.join(repoRoot, "node_modules", "@agoric", "xsnap");
  const XS = path.join(X, "moddable", "xs");
  /** The XS 13 sources @agoric/xsnap ships, with its own platform header, as xsnap is built. */
  const xsArgs = (file: string) => [
    "-fsyntax-only", "-Wall", "-Werror", "-DINCLUDE_XSPLATFORM", '-DXSPLATFORM="xsnapPlatform.h"',
    `-I${path.join(XS, "includes")}`, `-I${path.join(XS, "sources")}`, `-I${path.join(XS, "platforms")}`,
    `-I${path.join(X, "xsnap-native", "xsnap", "sources")}`, file,
  ];

  it("compiles against xsAll.h: the machine's heap counters it reads exist under those names", () => {
    const r = spawnSync("cc", xsArgs(path.join(NATIVE, "memory", "tether-memory.c")), { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    // And the check bites: a misspelt counter does not compile.
    const dir = tempDir("tether-memory-c-");
    const bad = path.join(dir, "bad.c");
    fs.writeFileSync(bad, fs.readFileSync(path.join(NATIVE, "memory", "tether-memory.c"), "utf8").replace("the->currentHeapCount;", "the->currentHeapSlots;"));
    const r2 = spawnSync("cc", xsArgs(bad), { encoding: "utf8" });
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toMatch(/currentHeapSlots/);
  });
});

/**
 * Checks the ESP32 build description that CI cannot build: the manifest, its partition table and
 * sdkconfig, and that the agent bundle mcconfig compiles fits an app slot.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildXs, repoRoot } from "../../scripts/build.mjs";
import { readDeviceConfig } from "../../device/platform/moddable/config";

const DIR = path.join(repoRoot, "manifests", "esp32");
/** The flash layouts we ship: manifest directory (relative to DIR) and flash size. */
const LAYOUTS = [
  { name: "4mb", dir: ".", flashSize: 4 * 1024 * 1024 },
  { name: "8mb", dir: "8mb", flashSize: 8 * 1024 * 1024 },
] as const;
const APP_ALIGN = 0x10000;
const DATA_ALIGN = 0x1000;
/** Bootloader at 0x1000 and the partition table at 0x8000 (one sector) come first. */
const FIRST_PARTITION = 0x9000;

/** Which Moddable manifest provides each module the bundle leaves external. */
const PROVIDERS: Record<string, string> = {
  timer: "$(MODDABLE)/examples/manifest_base.json",
  time: "$(MODDABLE)/examples/manifest_base.json",
  "embedded:io/analog": "$(MODDABLE)/modules/io/manifest.json",
  "embedded:io/socket/tcp": "$(MODDABLE)/modules/io/manifest.json",
  wifi: "$(MODDABLE)/modules/network/wifi/manifest.json",
  net: "$(MODDABLE)/modules/network/net/manifest.json",
  sntp: "$(MODDABLE)/modules/network/sntp/manifest.json",
  securesocket: "$(MODDABLE)/modules/crypt/tls.json",
  crypt: "$(MODDABLE)/modules/crypt/digest/manifest.json",
  preference: "$(MODDABLE)/modules/files/preference/manifest.json",
  "embedded:storage/flash": "$(MODDABLE)/modules/io/flash/manifest.json",
  "embedded:update": "$(MODDABLE)/modules/io/update/manifest.json",
  "tether-esp": "../../device/platform/moddable/native/manifest.json",
  "tether-memory": "../../device/platform/moddable/native/memory/manifest.json",
};

interface Creation {
  static: number;
  chunk: { initial: number; incremental: number };
  heap: { initial: number; incremental: number };
  stack: number;
}

interface Manifest {
  build: Record<string, string>;
  include: string[];
  modules: Record<string, string>;
  config: Record<string, unknown>;
  data: Record<string, string[]>;
  creation: Record<string, unknown>;
  platforms: Record<string, unknown>;
}

/** The agent part every layout's manifest includes (manifests/esp32/agent.json). */
function readManifest(): Manifest {
  return JSON.parse(fs.readFileSync(path.join(DIR, "agent.json"), "utf8")) as Manifest;
}

/** A layout's own manifest: only its partition table and sdkconfig, plus the agent part. */
function readLayoutManifest(dir: string): { build: Record<string, string>; include: string[] } {
  return JSON.parse(fs.readFileSync(path.join(DIR, dir, "manifest.json"), "utf8")) as { build: Record<string, string>; include: string[] };
}

interface Partition {
  name: string;
  type: string;
  subtype: string;
  offset: number;
  size: number;
}

function readPartitions(dir = "."): Partition[] {
  const text = fs.readFileSync(path.join(DIR, dir, "partitions.csv"), "utf8");
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"))
    .map((l) => {
      const [name, type, subtype, offset, size] = l.split(",").map((f) => f.trim());
      return { name, type, subtype, offset: Number(offset), size: Number(size) };
    });
}

describe("manifests/esp32/manifest.json", () => {
  it("is valid JSON with the sections mcconfig reads", () => {
    const m = readManifest();
    for (const key of ["build", "include", "modules", "config", "creation", "platforms"]) expect(m).toHaveProperty(key);
    expect(m.creation.main).toBe("main");
    // mcconfig lets an included manifest's build variables win over the includer's (seen with the
    // real mcconfig 8.2.3), so the agent part must not set the layout's, or no layout could.
    expect(m.build.PARTITIONS_FILE).toBeUndefined();
    expect(m.build.SDKCONFIGPATH).toBeUndefined();
    for (const { dir } of LAYOUTS) {
      const l = readLayoutManifest(dir);
      expect(l.build, dir).toEqual({ PARTITIONS_FILE: "./partitions.csv", SDKCONFIGPATH: "./sdkconfig" });
      expect(l.include.map((i) => path.resolve(DIR, dir, i)), dir).toEqual([path.join(DIR, "agent.json")]);
      expect(Object.keys(l).sort(), dir).toEqual(["build", "include"]);
    }
  });

  it("keeps what the real Moddable runtime needs for the bundle (seen in mcsim, docs/esp32.md)", () => {
    const m = readManifest() as Manifest & { strip?: unknown; preload?: string[] };
    // An explicit list: xsl then keeps every built-in but the ones listed (xslStrip.c,
    // fxStripCallbacks: XS_STRIP_EXPLICIT_FLAG), and links host functions lazily, which is what
    // saves the flash (docs/esp32.md "Image budget"). "*" (manifest_base's default) strips what
    // the linker believes unused, so the typed-array classes cbor-x reaches by name; [] saves
    // nothing. Only "Atomics", which nothing in the image uses, is listed.
    expect(m.strip).toEqual(["Atomics"]);
    // With the fixed heap below, the bundle boots only preloaded: its top-level definitions then
    // live in flash. Not preloaded, it needs more than 8,192 slots (mcsim, docs/esp32.md "Memory budget").
    expect(m.preload).toContain("main");
    const esp32 = (m.platforms.esp32 as { creation: Creation }).creation;
    // In mcsim the agent bundle overflowed a 512-slot stack at boot and ran with 1024; keep a margin.
    expect(esp32.stack).toBeGreaterThanOrEqual(1024);
    // 64 KB of chunks aborted when an OTA began (mcsim: "Chunk allocation ... failed in fixed size heap").
    expect(esp32.chunk.initial).toBeGreaterThan(65536);
  });

  it("has a simulator twin with the same creation block, preloads and stand-ins for what lin lacks", () => {
    const esp = readManifest() as Manifest & { preload: string[]; strip: unknown };
    const sim = JSON.parse(fs.readFileSync(path.join(repoRoot, "manifests", "sim", "manifest.json"), "utf8")) as Manifest & { preload: string[]; strip: unknown };
    const { main, ...simCreation } = sim.creation as unknown as Creation & { main: string };
    expect(main).toBe("main");
    expect(simCreation).toEqual((esp.platforms.esp32 as { creation: Creation }).creation);
    expect(sim.preload).toEqual(esp.preload);
    expect(sim.strip).toEqual(esp.strip);
    expect(Object.keys(sim.platforms).sort()).toEqual(["...", "lin", "mac", "win"]);
    expect(path.resolve(repoRoot, "manifests", "sim", sim.modules.main)).toBe(path.join(repoRoot, "dist", "xs", "tether-esp32"));
    for (const [spec, p] of Object.entries(sim.modules)) if (spec !== "main") expect(fs.existsSync(path.resolve(repoRoot, "manifests", "sim", p + ".js")), spec).toBe(true);
    // The same config keys, so a sim run exercises the same configuration code.
    for (const key of Object.keys(esp.config)) expect(sim.config, key).toHaveProperty(key);
    // The tether-esp stand-in exports what the native module exports.
    const exportsOf = (file: string) => [...fs.readFileSync(file, "utf8").matchAll(/^export (?:const|function) (\w+)/gm)].map((x) => x[1]).sort();
    expect(exportsOf(path.join(repoRoot, "manifests", "sim", "lin", "tether-esp.js"))).toEqual(exportsOf(path.join(repoRoot, "device", "platform", "moddable", "native", "tether-esp.js")));
    // Every module the bundle leaves external: a Moddable manifest that lin has, or a stand-in.
    const lin = new Set(["embedded:storage/flash", "embedded:io/analog", "tether-esp"]);
    for (const spec of Object.keys(PROVIDERS)) {
      if (lin.has(spec)) expect(sim.modules, spec).toHaveProperty([spec]);
      else if (spec !== "embedded:update") expect(sim.include, spec).toContain(PROVIDERS[spec]);
    }
  });

  it("lists only paths that exist (repo paths; Moddable paths are checked by hand with the SDK)", () => {
    const m = readManifest();
    const local = (p: string) => !p.startsWith("$(");
    for (const inc of m.include.filter(local)) expect(fs.existsSync(path.resolve(DIR, inc)), inc).toBe(true);
    for (const { dir } of LAYOUTS) {
      const l = readLayoutManifest(dir);
      expect(fs.existsSync(path.resolve(DIR, dir, l.build.PARTITIONS_FILE)), dir).toBe(true);
      expect(fs.existsSync(path.resolve(DIR, dir, l.build.SDKCONFIGPATH, "sdkconfig.defaults")), dir).toBe(true);
    }
    // The native module: mcconfig pairs tether-esp.js with tether-esp.c.
    const native = JSON.parse(fs.readFileSync(path.join(repoRoot, "device/platform/moddable/native/manifest.json"), "utf8"));
    const nativePath = native.platforms.esp32.modules["tether-esp"] as string;
    for (const ext of [".js", ".c"]) {
      expect(fs.existsSync(path.resolve(repoRoot, "device/platform/moddable/native", nativePath + ext)), nativePath + ext).toBe(true);
    }
    // "main" is the esbuild bundle that `npm run build:xs` writes (built in the size test below).
    expect(path.resolve(DIR, m.modules.main)).toBe(path.join(repoRoot, "dist", "xs", "tether-esp32"));
    for (const p of Object.values(m.modules)) expect(local(p)).toBe(true);
    // A fresh clone builds it: every data resource is committed (the broker CA is added by the
    // flash script's build manifest, dist/esp32 exists only after it ran).
    for (const p of Object.values(m.data ?? {}).flat()) {
      const dir = path.dirname(path.resolve(DIR, p));
      const stem = path.basename(p);
      expect(fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.startsWith(stem + ".")) && !path.relative(repoRoot, dir).startsWith("dist"), p).toBe(true);
    }
  });

  it("carries every setting the command line must be able to set, and they parse", () => {
    const m = readManifest();
    for (const key of ["deviceId", "broker", "wifiSsid", "wifiPassword", "otaPublicKey", "sntp", "caResource"]) expect(m.config).toHaveProperty(key);
    // mcconfig passes command-line values as strings: `deviceId=esp-0001 broker=mqtts://...`.
    const c = readDeviceConfig({
      ...m.config,
      deviceId: "esp-0001",
      broker: "mqtts://broker.example:8883, mqtt://10.0.0.5:1883",
      wifiSsid: "lab",
      otaPublicKey: "ab".repeat(32),
      telemetryIntervalMs: "30000",
    });
    expect(c.brokers).toEqual(["mqtts://broker.example:8883", "mqtt://10.0.0.5:1883"]);
    expect(c.telemetryIntervalMs).toBe(30000);
    expect(c.caResource).toBe("broker-ca.der");
    expect(() => readDeviceConfig({ ...m.config, deviceId: "x", broker: "mqtt://b", wifiSsid: "s", otaPublicKey: "nothex" })).toThrow(/otaPublicKey/);
    expect(() => readDeviceConfig({ ...m.config })).toThrow(/config.deviceId is required/);
    expect(() => readDeviceConfig({ ...m.config, deviceId: "x", broker: "mqtt://b", wifiSsid: "s", batteryPin: "thirty" })).toThrow(/batteryPin/);
  });

  it("makes the native module refuse to build without bootloader rollback", () => {
    // The effective sdkconfig is checked in sdkconfig.test.ts; the #error guard itself in native.test.ts.
    const m = readManifest() as Manifest & { defines: { tether: { require_rollback: number } } };
    expect(m.defines.tether.require_rollback).toBe(1);
  });
});

describe.each(LAYOUTS)("the $name partition table", ({ dir, flashSize }) => {
  const parts = readPartitions(dir);

  it("has the partitions ESP-IDF OTA and the agent need, and no unused data partition", () => {
    const byName = new Map(parts.map((p) => [p.name, p]));
    // The agent keeps its state in NVS (`preference`); nothing on the board opens another data
    // partition, so the space goes to the app slots.
    expect([...byName.keys()].sort()).toEqual(["nvs", "ota_0", "ota_1", "otadata", "phy_init"]);
    // The outbox's byte budget (device/core/link/outbox.ts) assumes 24 KiB of NVS.
    expect(byName.get("nvs")).toMatchObject({ type: "data", subtype: "nvs", size: 0x6000 });
    expect(byName.get("otadata")).toMatchObject({ type: "data", subtype: "ota", size: 0x2000 });
    expect(byName.get("ota_0")).toMatchObject({ type: "app", subtype: "ota_0" });
    expect(byName.get("ota_1")).toMatchObject({ type: "app", subtype: "ota_1" });
    expect(byName.get("ota_0")!.size).toBe(byName.get("ota_1")!.size);
  });

  it("fits its flash without overlaps, app slots 64 KB aligned, no 64 KB block left unused", () => {
    let end = FIRST_PARTITION;
    for (const p of [...parts].sort((a, b) => a.offset - b.offset)) {
      expect(Number.isInteger(p.offset) && Number.isInteger(p.size) && p.size > 0, p.name).toBe(true);
      expect(p.offset, `${p.name} overlaps the previous partition`).toBeGreaterThanOrEqual(end);
      const align = p.type === "app" ? APP_ALIGN : DATA_ALIGN;
      expect(p.offset % align, `${p.name} offset alignment`).toBe(0);
      expect(p.size % align, `${p.name} size alignment`).toBe(0);
      end = p.offset + p.size;
    }
    expect(end).toBe(flashSize);
  });
});

describe("the image budget (manifests/esp32/image-budget.json)", () => {
  const budget = JSON.parse(fs.readFileSync(path.join(DIR, "image-budget.json"), "utf8")) as {
    runtimeBytes: number;
    bundleFlashFactor: number;
    minSpareFraction: number;
    layouts: Record<string, { minSpareFraction: number }>;
  };

  it("keeps 15 % of every layout's app slot spare (the growth policy)", async () => {
    expect(budget.minSpareFraction).toBeGreaterThanOrEqual(0.15);
    expect(Object.keys(budget.layouts).sort()).toEqual(LAYOUTS.map((l) => l.name).sort());
    // Every layout, the default 4 MB one too: no layout may be checked below the policy.
    for (const { name } of LAYOUTS) expect(budget.layouts[name].minSpareFraction, name).toBeGreaterThanOrEqual(budget.minSpareFraction);
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-esp32-size-"));
    try {
      const built = await buildXs({ outDir, log: () => {} });
      const esp32 = built.find((b) => b.name === "tether-esp32");
      expect(esp32, "device/platform/moddable/main.ts did not bundle").toBeDefined();
      // The slot holds the runtime plus the preloaded bundle (its bytecode, strings and heap, all in flash).
      const image = imageEstimate(budget, esp32!.bytes);
      for (const { name, dir } of LAYOUTS) {
        const slot = readPartitions(dir).find((p) => p.name === "ota_0")!.size;
        const spare = spareOf(image, slot);
        expect(spare, `${name}: slot ${slot} bytes, image ${image} (bundle ${esp32!.bytes} bytes): ${(spare * 100).toFixed(1)} % spare`).toBeGreaterThanOrEqual(budget.layouts[name].minSpareFraction);
      }
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  it("fails when the bundle grows past the policy (the arithmetic the check above relies on)", () => {
    const slot = readPartitions("8mb").find((p) => p.name === "ota_0")!.size;
    const maxBundle = Math.floor((slot * (1 - budget.minSpareFraction) - budget.runtimeBytes) / budget.bundleFlashFactor);
    expect(spareOf(imageEstimate(budget, maxBundle - 1), slot)).toBeGreaterThanOrEqual(budget.minSpareFraction);
    expect(spareOf(imageEstimate(budget, maxBundle + 1024), slot)).toBeLessThan(budget.minSpareFraction);
  });
});

function imageEstimate(b: { runtimeBytes: number; bundleFlashFactor: number }, bundleBytes: number): number {
  return b.runtimeBytes + Math.ceil(bundleBytes * b.bundleFlashFactor);
}

function spareOf(image: number, slot: number): number {
  return 1 - image / slot;
}

describe("manifests/esp32/agent.json externals", () => {
  it("includes a Moddable module for every specifier the bundle leaves external", async () => {
    const { xsBundleGraph } = await import("../../scripts/build.mjs");
    const { externals } = await xsBundleGraph(path.join(repoRoot, "device/platform/moddable/main.ts"));
    const m = readManifest();
    for (const spec of externals) {
      expect(PROVIDERS[spec], `no known provider for "${spec}"`).toBeDefined();
      expect(m.include, `${spec} needs ${PROVIDERS[spec]}`).toContain(PROVIDERS[spec]);
    }
  });
});

/**
 * The ESP32 bundle is preloaded (manifests/esp32/agent.json), and in Moddable SDK 8.2.3
 * `test`/`exec` on a RegExp object created during preload crashes XS once a garbage collection
 * has run: a 10-line app with `const RE = /^\d+$/` in a preloaded module and `RE.test(...)` in a
 * timer segfaults in mcsim in fx_RegExp_prototype_exec (fixed and growable heaps alike); the same
 * app without preload, or with the literal inside the function, runs (docs/esp32.md). So the
 * bundle must not hold RegExp objects in module-level bindings. A regex literal inside a function
 * is created at run time, in RAM, and is fine.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bundleForXs, repoRoot } from "../../scripts/build.mjs";

/**
 * Module-level RegExps the bundle has today, each a crash on the board once reached after a GC.
 * Remove an entry when its owner moves the regex into a function; the test fails on any new one.
 */
const KNOWN: Record<string, string> = {
  // cbor-x: used only with the keyMap and bundleStrings options, which Tether does not set.
  validName: "node_modules/cbor-x (keyMap only)",
  hasNonLatin: "node_modules/cbor-x (bundleStrings only)",
};

/**
 * Module-level objects built with `new` that hold buffers: in a preloaded bundle their bytes are
 * in flash, and the first write throws "read-only buffer" (seen in mcsim: every telemetry report
 * failed while the batch writer's buffer was made at module load). Zero-length arrays hold
 * nothing to write. The cbor-x ones are reached only for floats, which Tether's messages do not
 * carry (integers and text only).
 */
const KNOWN_BUFFERS: Record<string, string> = {
  // Written only to decode a half-precision float (and by the useFloat32 option, unset): the
  // pre-scan refuses halves (cbor-scan.ts), after mcsim showed "read-only buffer" on one.
  f32Array: "node_modules/cbor-x (half-float decode only; refused before cbor-x)",
  u8Array: "node_modules/cbor-x (half-float decode only; refused before cbor-x)",
  isLittleEndianMachine: "node_modules/cbor-x (a boolean; the probe buffer is dropped)",
  isLittleEndianMachine2: "node_modules/cbor-x (a boolean; the probe buffer is dropped)",
};

/** `var NAME = new Uint8Array(n)` (and other buffer-holding constructions) at the top level, n not 0. */
export function moduleLevelBuffers(bundle: string): string[] {
  return [...bundle.matchAll(/^(?:var|let|const) ([\w$]+) = new (?:Uint8Array|Uint16Array|Uint32Array|Int8Array|Int16Array|Int32Array|Float32Array|Float64Array|ArrayBuffer|DataView|CborWriter)\((?!0\))/gm)].map((m) => m[1]);
}

/** `var NAME = /.../flags;` at the top level of an esbuild ESM bundle. */
export function moduleLevelRegExps(bundle: string): string[] {
  return [...bundle.matchAll(/^(?:var|let|const) ([\w$]+) = \/(?:[^/\\\n]|\\.)+\/[dgimsuvy]*;$/gm)].map((m) => m[1]);
}

describe("the preloaded ESP32 bundle", () => {
  it("finds module-level regex bindings, and not regexes inside functions", () => {
    expect(moduleLevelRegExps("var A = /^a+$/;\nfunction f(s) {\n  return /^b$/.test(s);\n}\nconst B = /x\\/y/g;\n")).toEqual(["A", "B"]);
  });

  it("finds module-level buffers, not empty ones and not those made inside functions", () => {
    expect(moduleLevelBuffers("var A = new Uint8Array(8);\nvar E = new Uint8Array(0);\nvar W = new CborWriter(64);\nfunction f() {\n  return new Uint8Array(4);\n}\n")).toEqual(["A", "W"]);
  });

  it("holds no writable buffer made at module load beyond the known ones", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-preload-buf-"));
    try {
      const out = path.join(dir, "tether-esp32.mjs");
      await bundleForXs(path.join(repoRoot, "device", "platform", "moddable", "main.ts"), out, "esm");
      const found = moduleLevelBuffers(fs.readFileSync(out, "utf8"));
      expect(found.filter((n) => !(n in KNOWN_BUFFERS)), "make these buffers at first use, not at module load").toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names no error by assignment (preload freezes Error.prototype: `this.name = ...` throws there)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-preload-name-"));
    try {
      const out = path.join(dir, "tether-esp32.mjs");
      await bundleForXs(path.join(repoRoot, "device", "platform", "moddable", "main.ts"), out, "esm");
      const assigned = [...fs.readFileSync(out, "utf8").matchAll(/\bthis\.name = "(\w+)"/g)].map((m) => m[1]);
      expect(assigned, "use setErrorName (device/core/util/error-name.ts); test/xs/esp32-frozen-errors.test.ts runs them frozen").toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("holds no RegExp in a module-level binding beyond the known ones", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-preload-re-"));
    try {
      const out = path.join(dir, "tether-esp32.mjs");
      await bundleForXs(path.join(repoRoot, "device", "platform", "moddable", "main.ts"), out, "esm");
      const found = moduleLevelRegExps(fs.readFileSync(out, "utf8"));
      expect(found.filter((n) => !(n in KNOWN)), "move these regexes into the functions that use them").toEqual([]);
      // A fixed entry must leave the list, so the list only shrinks.
      expect(Object.keys(KNOWN).filter((n) => !found.includes(n)), "fixed: remove from KNOWN").toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The ESP32 bundle is preloaded (manifests/esp32/manifest.json), and in Moddable SDK 8.2.3
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

/** `var NAME = /.../flags;` at the top level of an esbuild ESM bundle. */
export function moduleLevelRegExps(bundle: string): string[] {
  return [...bundle.matchAll(/^(?:var|let|const) ([\w$]+) = \/(?:[^/\\\n]|\\.)+\/[dgimsuvy]*;$/gm)].map((m) => m[1]);
}

describe("the preloaded ESP32 bundle", () => {
  it("finds module-level regex bindings, and not regexes inside functions", () => {
    expect(moduleLevelRegExps("var A = /^a+$/;\nfunction f(s) {\n  return /^b$/.test(s);\n}\nconst B = /x\\/y/g;\n")).toEqual(["A", "B"]);
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

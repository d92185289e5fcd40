// Guard: device/core (and the virtual adapters in host-sim/virtual, which also run inside
// XS scenarios) import nothing from Node, Moddable, host-sim, tools or tests, and name no
// Node globals. A second check bundles them with the device policy and inspects the graph.
// A third keeps all of device/** (the platform adapters too) and service/** off host-sim.
import fs from "node:fs";
import path from "node:path";
import * as esbuild from "esbuild";
import { describe, expect, it } from "vitest";
import { repoRoot, xsBuildOptions, xsBundleGraph } from "../../scripts/build.mjs";
import { findViolations, formatViolations, hostSimImports, importSpecifiers, isForbiddenLocal, lex, type Zone } from "./neutral-checker";

function tsFiles(dir: string): string[] {
  const abs = path.join(repoRoot, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(".ts"))
    .map((d) => path.join(d.parentPath, d.name))
    .sort();
}

const ZONES: Array<{ dir: string; zone: Zone }> = [
  { dir: "device/core", zone: "device-core" },
  { dir: "host-sim/virtual", zone: "host-sim-virtual" },
];

describe("the checker itself", () => {
  const coreFile = path.join(repoRoot, "device/core/example.ts");
  const check = (src: string, zone: Zone = "device-core") => findViolations(src, coreFile, zone).map((v) => v.rule);

  it("detects forbidden imports", () => {
    expect(check(`import { readFileSync } from "node:fs";`)).toEqual([`imports the Node builtin "node:fs"`]);
    expect(check(`import net from "net";`)).toHaveLength(1);
    expect(check(`import type { Socket } from "node:net";`)).toHaveLength(1);
    expect(check(`import {\n  createHash,\n} from "crypto";`)).toHaveLength(1);
    expect(check(`export { x } from "events";`)).toHaveLength(1);
    expect(check(`import "buffer";`)).toHaveLength(1);
    expect(check(`const m = await import("node:os");`)).toHaveLength(1);
    expect(check(`import Timer from "timer";`)).toHaveLength(1);
    expect(check(`import Flash from "embedded:storage/flash";`)).toHaveLength(1);
    expect(check(`import { sim } from "../../host-sim/virtual/clock";`)).toHaveLength(1);
    expect(check(`import { cli } from "../../tools/cli";`)).toHaveLength(1);
    expect(check(`import { net } from "../platform/node/network";`)).toHaveLength(1);
    expect(check(`import { esp } from "../platform/moddable/flash";`)).toHaveLength(1);
    expect(check(`import { h } from "../../test/xs/harness";`)).toHaveLength(1);
    expect(check(`import { decodeHeader } from "../../bootloader-spec/reference/image";`)).toEqual([]);
  });

  it("detects Node globals", () => {
    expect(check(`const b = Buffer.from([1]);`)).toEqual(["uses Buffer"]);
    expect(check(`if (process.env.X) {}`)).toEqual(["uses process"]);
    expect(check(`const t = typeof process !== "undefined";`)).toEqual(["uses process"]);
    expect(check(`setTimeout(() => {}, 10);`)).toEqual(["uses timers (use the clock port)"]);
    expect(check(`const id = setInterval(tick, 5);`)).toHaveLength(1);
    expect(check(`setImmediate(f);`)).toHaveLength(1);
    expect(check(`const c = { setTimeout, clearTimeout };`)).toHaveLength(2);
    expect(check(`const now = Date.now();`)).toEqual(["uses Date.now (use the clock ports)"]);
    expect(check(`const d = new Date();`)).toEqual(["uses new Date() (use the wall-clock port)"]);
    expect(check(`const d = new Date;`)).toHaveLength(1);
    expect(check(`const t = performance.now();`)).toEqual(["uses performance"]);
    expect(check(`const x = require("cbor-x");`)).toContain("uses require(");
    expect(check(`const here = __dirname;`)).toHaveLength(1);
    expect(check(`const r = Math.random();`)).toHaveLength(1);
    expect(check(`console.log("hi");`)).toHaveLength(1);
    expect(check(`const b = new TextEncoder().encode(s);`)).toHaveLength(1);
    expect(check(`crypto.getRandomValues(buf);`)).toHaveLength(1);
    expect(check(`const B = globalThis.Buffer;`)).toEqual(["uses Node global via globalThis"]);
    expect(check("const s = `t=${Date.now()}`;")).toHaveLength(1);
  });

  it("ignores comments, strings, regexes, member access and member definitions", () => {
    const clean = [
      `// setTimeout, process.env, Buffer, Date.now(), require("fs") and import "node:fs" in a comment`,
      `/* new Date() and performance.now() and __dirname in a block comment */`,
      `const s = "Buffer.from process.env setTimeout( Date.now() require( node:fs";`,
      `const t = 'import x from "node:net"';`,
      "const u = `no Date.now() here ${1 + 2} nor process.env`;",
      `const re = /setTimeout\\(|process\\./;`,
      `this.timer = this.deps.clock.setTimeout(() => {}, 5);`,
      `ports.clock.clearTimeout(id);`,
      `const d = new Date(0);`,
      `const ab = new ArrayBuffer(8); const sab = typeof SharedArrayBuffer;`,
      `class VirtualClock { setTimeout(fn: () => void, ms: number): number { return 0; } clearTimeout(id: number): void {} }`,
      `interface Clock { setTimeout(fn: () => void, ms: number): TimerId; setInterval?(f: () => void): void }`,
      `const handlers = { setTimeout: (f: () => void) => 0 };`,
      `parser.process(bytes); const performanceBudget = 3; const requireAck = true;`,
      `import { encode } from "cbor-x"; import nacl from "tweetnacl"; import { a } from "./mqtt/codec"; import type { Clock } from "../ports";`,
      `const x = a / b / c; const y = (a) / 2;`,
    ].join("\n");
    expect(formatViolations(findViolations(clean, coreFile, "device-core"))).toBe("");
  });

  it("keeps offsets when lexing, so line numbers stay right", () => {
    const src = `const a = "x";\n// c\nconst b = Buffer.alloc(1);\n`;
    const { code, bare } = lex(src);
    expect(code.length).toBe(src.length);
    expect(bare.length).toBe(src.length);
    expect(findViolations(src, coreFile, "device-core")[0]?.line).toBe(3);
  });

  it("lets host-sim/virtual import itself, the ports and core, and nothing else of host-sim", () => {
    const file = path.join(repoRoot, "host-sim/virtual/network.ts");
    const vcheck = (src: string) => findViolations(src, file, "host-sim-virtual").map((v) => v.rule);
    expect(vcheck(`import { VirtualClock } from "./clock";`)).toEqual([]);
    expect(vcheck(`import type { Network } from "../../device/ports";`)).toEqual([]);
    expect(vcheck(`import { cborEncode } from "../../device/core/util/cbor";`)).toEqual([]);
    expect(vcheck(`import { curve } from "../battery/physics";`)).toHaveLength(1);
    expect(vcheck(`import { connect } from "node:net";`)).toHaveLength(1);
  });
});

describe("device and service code never import the simulator", () => {
  it("the check finds host-sim imports from any depth and nothing else", () => {
    const adapter = path.join(repoRoot, "device/platform/node/flash.ts");
    const rules = (src: string, file = adapter) => hostSimImports(src, file).map((v) => v.rule);
    expect(rules(`import { SimFlash } from "../../../host-sim/virtual/flash";`)).toHaveLength(1);
    expect(rules(`export type { X } from "../../../host-sim/fleet/engine";`)).toHaveLength(1);
    expect(rules(`const m = await import("../../../host-sim/node-device");`)).toHaveLength(1);
    expect(rules(`import { x } from "../host-sim/x";`, path.join(repoRoot, "service/api.ts"))).toHaveLength(1);
    expect(rules(`import { readFileSync } from "node:fs"; import type { Flash } from "../../ports"; // "../../../host-sim/x"`)).toEqual([]);
    expect(rules(`import { y } from "../../../host-simulator-notes";`)).toEqual([]);
  });

  for (const dir of ["device", "service"]) {
    it(`${dir}/**: no import of host-sim`, () => {
      const violations = tsFiles(dir).flatMap((f) => hostSimImports(fs.readFileSync(f, "utf8"), f));
      expect(violations, `\n${formatViolations(violations)}\n`).toEqual([]);
    });
  }
});

describe("device/core and host-sim/virtual are platform neutral", () => {
  for (const { dir, zone } of ZONES) {
    it(`${dir}: no platform imports, no Node globals`, () => {
      const files = tsFiles(dir);
      const violations = files.flatMap((f) => findViolations(fs.readFileSync(f, "utf8"), f, zone));
      expect(violations, `\n${formatViolations(violations)}\n`).toEqual([]);
    });
  }

  it("imports packages only from the runtime dependencies (a dev dependency does not ship)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const runtime = new Set(Object.keys(pkg.dependencies ?? {}));
    const packageOf = (spec: string) => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/");
    const offenders = ZONES.flatMap(({ dir }) => tsFiles(dir)).flatMap((f) => {
      const { code, bare } = lex(fs.readFileSync(f, "utf8"));
      return importSpecifiers(code, bare)
        .map(({ spec }) => spec)
        .filter((spec) => !spec.startsWith(".") && !spec.startsWith("/") && !runtime.has(packageOf(spec)))
        .map((spec) => `${path.relative(repoRoot, f)}: "${spec}"`);
    });
    expect(offenders).toEqual([]);
  });

  it("bundles with the device (XS) policy: no Node builtins, no externals, no forbidden sources", async () => {
    const entries = ZONES.flatMap(({ dir }) => tsFiles(dir)).filter((f) => !f.endsWith(".d.ts"));
    if (entries.length === 0) return;
    const options = xsBuildOptions({ entry: entries[0]!, write: false });
    delete options.outfile;
    // The policy plugin fails the build on any Node builtin anywhere in the graph.
    const result = await esbuild.build({ ...options, entryPoints: entries, outdir: path.join(repoRoot, "dist", "guard"), absWorkingDir: repoRoot });
    const local = Object.keys(result.metafile!.inputs)
      .map((p) => path.resolve(repoRoot, p))
      .filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`));
    const forbidden = local.filter((p) => {
      const zone: Zone = p.startsWith(path.join(repoRoot, "host-sim", "virtual") + path.sep) ? "host-sim-virtual" : "device-core";
      return isForbiddenLocal(p, zone);
    });
    expect(forbidden.map((p) => path.relative(repoRoot, p))).toEqual([]);
    const externals = new Set<string>();
    for (const input of Object.values(result.metafile!.inputs)) {
      // "<runtime>" is esbuild's own helper module, not an import.
      for (const imp of input.imports) if (imp.external && !imp.path.startsWith("<")) externals.add(imp.path);
    }
    expect([...externals]).toEqual([]);
    // Repo files outside the two zones that the bundle reaches ship to the device too: same rules.
    const inZones = (p: string) => ZONES.some(({ dir }) => p.startsWith(path.join(repoRoot, dir) + path.sep));
    const reached = local.filter((p) => !inZones(p) && p.endsWith(".ts"));
    const violations = reached.flatMap((f) => findViolations(fs.readFileSync(f, "utf8"), f, "reachable"));
    expect(violations, `\n${formatViolations(violations)}\n`).toEqual([]);
  });

  const agentEntry = path.join(repoRoot, "device", "core", "index.ts");
  it.skipIf(!fs.existsSync(agentEntry))("the agent bundle (device/core/index.ts) pulls in no Node builtin", async () => {
    const graph = await xsBundleGraph(agentEntry);
    expect(graph.inputs.filter((p) => p.startsWith("node:"))).toEqual([]);
    expect(graph.externals).toEqual([]);
  });
});

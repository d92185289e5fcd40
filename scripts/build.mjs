#!/usr/bin/env node
// Builds Tether's bundles with esbuild.
//
//   node scripts/build.mjs xs     device bundles for Moddable XS (ESM, platform neutral):
//                                 dist/xs/tether-agent.mjs  from device/core/index.ts
//                                 dist/xs/tether-esp32.mjs  from device/platform/moddable/main.ts (if present)
//   node scripts/build.mjs host   the host CLI: dist/tether.js from tools/cli.ts (platform node), and dist/fleet-shard.js
//
// The XS policy, shared by the XS test tier (test/xs/harness.ts) and the guard test:
// - Moddable specifiers stay external (`embedded:*`, `pins/*`, timer, preference, crypt, ...);
// - tweetnacl's `require("crypto")` is aliased to the device randomness shim;
// - cbor-x's typed-array registration reads names from a fixed table (scripts/cbor-x-typed-array-names.mjs),
//   so the bundle links under an xsl `strip` list;
// - anything else that resolves to a Node builtin fails the build: that is a core violation.
//
// Options for `xs`: --minify, --define:NAME=VALUE (repeatable, value is JSON or a bare string).
import { builtinModules } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { cborXTypedArrayNamesPlugin } from "./cbor-x-typed-array-names.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..");

/** Bare Moddable module specifiers that the device bundle leaves to mcconfig. */
export const MODDABLE_BARE_MODULES = Object.freeze([
  "timer",
  "preference",
  "crypt",
  "system",
  "flash",
  "socket",
  "securesocket",
  "wifi",
  "sntp",
  "net",
  "time",
  "ota",
  "analog",
  "tether-esp",
  "tether-memory",
]);
/** Wildcard external patterns (esbuild syntax). */
export const MODDABLE_EXTERNAL_PATTERNS = Object.freeze(["embedded:*", "pins/*"]);
export const MODDABLE_EXTERNALS = Object.freeze([...MODDABLE_EXTERNAL_PATTERNS, ...MODDABLE_BARE_MODULES]);

/** The tweetnacl randomness shim that replaces `require("crypto")` in device bundles. */
export const NACL_RANDOM_SHIM = path.join(repoRoot, "device", "core", "crypto", "nacl-random-shim.ts");

const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith("_")).map((m) => m.replace(/^node:/, "")));

/** Whether a Moddable module specifier (kept external in device bundles). */
export function isModdableSpecifier(spec) {
  if (spec.startsWith("embedded:")) return true;
  if (spec.startsWith("pins/")) return true;
  return MODDABLE_BARE_MODULES.includes(spec);
}

/** Whether `spec` names a Node builtin (`node:*`, or a bare builtin such as fs or crypto/webcrypto). */
export function isNodeBuiltin(spec) {
  if (spec.startsWith("node:")) return true;
  const base = spec.split("/")[0];
  return NODE_BUILTINS.has(base) || NODE_BUILTINS.has(spec);
}

function isTweetnacl(importer) {
  return /[\\/]node_modules[\\/]tweetnacl[\\/]/.test(importer);
}

/**
 * The esbuild plugin that enforces the device policy: Moddable specifiers external,
 * tweetnacl's crypto to the shim, every other Node builtin an error.
 */
export function xsPolicyPlugin() {
  return {
    name: "tether-xs-policy",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        const spec = args.path;
        if (args.kind === "entry-point") return undefined;
        if (spec.startsWith(".") || path.isAbsolute(spec)) return undefined;
        if (isModdableSpecifier(spec)) return { path: spec, external: true };
        if (isNodeBuiltin(spec)) {
          if (isTweetnacl(args.importer) && (spec === "crypto" || spec === "node:crypto")) {
            return { path: NACL_RANDOM_SHIM };
          }
          return {
            errors: [
              {
                text:
                  `Node builtin "${spec}" imported by ${path.relative(repoRoot, args.importer) || args.importer}: ` +
                  `device bundles run on XS and must not use Node (core violation)`,
              },
            ],
          };
        }
        return undefined;
      });
    },
  };
}

/**
 * esbuild options for a device (XS) bundle, shared by builds, the XS test tier and the guard.
 * @param {{ entry: string, outFile?: string, format?: "esm" | "iife", minify?: boolean,
 *           define?: Record<string, string>, write?: boolean, metafile?: boolean, sourcemap?: boolean }} o
 */
export function xsBuildOptions(o) {
  const version = firmwareVersionOf(o.define);
  return {
    // The version the code reports, on its first line, so `tether ota sign` can refuse a manifest
    // that names another one (tools/ota/embedded-version.ts reads it).
    banner: version === undefined ? undefined : { js: `${FIRMWARE_VERSION_BANNER}${version}` },
    entryPoints: [o.entry],
    bundle: true,
    format: o.format ?? "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["import", "default"],
    external: [...MODDABLE_EXTERNALS],
    plugins: [xsPolicyPlugin(), cborXTypedArrayNamesPlugin()],
    minify: o.minify ?? false,
    define: o.define ?? {},
    outfile: o.outFile,
    write: o.write ?? true,
    metafile: o.metafile ?? true,
    sourcemap: o.sourcemap ?? false,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
  };
}

export const FIRMWARE_VERSION_BANNER = "// tether-firmware-version: ";

/** The TETHER_FIRMWARE_VERSION a define map sets (its value is a JS string literal), or undefined. */
function firmwareVersionOf(define) {
  const raw = define?.TETHER_FIRMWARE_VERSION;
  if (raw === undefined) return devVersion();
  try {
    const v = JSON.parse(raw);
    return typeof v === "string" && /^[\x21-\x7e]+$/.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** DEV_VERSION from device/core/version.ts: what a build without the define reports. */
function devVersion() {
  const m = /DEV_VERSION = "([^"]+)"/.exec(fs.readFileSync(path.join(repoRoot, "device", "core", "version.ts"), "utf8"));
  return m?.[1];
}

/** Turns an esbuild failure into one readable Error. */
function rethrow(err, what) {
  const errors = err?.errors ?? [];
  if (errors.length) {
    const text = errors
      .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
      .join("\n");
    const e = new Error(`${what} failed:\n${text}`);
    e.cause = err;
    throw e;
  }
  throw err;
}

/**
 * Bundles `entry` for XS (or for the Node half of an XS scenario: same code, same policy).
 * @param {string} entry  a .ts/.js entry path
 * @param {string} outFile output path
 * @param {"esm" | "iife"} [format]
 * @param {{ define?: Record<string,string>, minify?: boolean }} [extra]
 * @returns {Promise<{ outFile: string, bytes: number, metafile: import("esbuild").Metafile }>}
 */
export async function bundleForXs(entry, outFile, format = "esm", extra = {}) {
  let result;
  try {
    result = await esbuild.build(xsBuildOptions({ entry, outFile, format, ...extra }));
  } catch (err) {
    rethrow(err, `XS bundle of ${path.relative(repoRoot, entry)}`);
  }
  return { outFile, bytes: fs.statSync(outFile).size, metafile: result.metafile };
}

/**
 * The module graph of an XS bundle, without writing it: inputs and external imports.
 * Throws (like the build) if anything resolves to a Node builtin.
 * @param {string} entry
 */
export async function xsBundleGraph(entry) {
  let result;
  try {
    result = await esbuild.build(xsBuildOptions({ entry, outFile: path.join(repoRoot, "dist", "xs", "graph.mjs"), write: false }));
  } catch (err) {
    rethrow(err, `XS bundle graph of ${path.relative(repoRoot, entry)}`);
  }
  const inputs = Object.keys(result.metafile.inputs);
  const externals = new Set();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) if (imp.external && !imp.path.startsWith("<")) externals.add(imp.path);
  }
  return { inputs, externals: [...externals].sort() };
}

const AGENT_ENTRY = path.join(repoRoot, "device", "core", "index.ts");
const AGENT_PLACEHOLDER = path.join(repoRoot, "device", "ports.ts");
const ESP32_ENTRY = path.join(repoRoot, "device", "platform", "moddable", "main.ts");

/**
 * Builds the device bundles.
 * @param {{ outDir?: string, agentOut?: string, esp32Out?: string, define?: Record<string,string>,
 *           minify?: boolean, esp32?: boolean, log?: (m: string) => void }} [options]
 *   `define` is passed to esbuild, e.g. `{ TETHER_FIRMWARE_VERSION: JSON.stringify("1.2.3") }`.
 *   `esp32: false` skips the ESP32 image even if its entry exists.
 * @returns {Promise<Array<{ name: string, entry: string, outFile: string, bytes: number }>>}
 */
export async function buildXs(options = {}) {
  const log = options.log ?? ((m) => console.log(m));
  const outDir = options.outDir ?? path.join(repoRoot, "dist", "xs");
  const built = [];
  let agentEntry = AGENT_ENTRY;
  if (!fs.existsSync(agentEntry)) {
    log(`build:xs: ${path.relative(repoRoot, AGENT_ENTRY)} does not exist yet; bundling ${path.relative(repoRoot, AGENT_PLACEHOLDER)} as a placeholder`);
    agentEntry = AGENT_PLACEHOLDER;
  }
  const jobs = [{ name: "tether-agent", entry: agentEntry, outFile: options.agentOut ?? path.join(outDir, "tether-agent.mjs") }];
  if (options.esp32 !== false) {
    if (fs.existsSync(ESP32_ENTRY)) {
      jobs.push({ name: "tether-esp32", entry: ESP32_ENTRY, outFile: options.esp32Out ?? path.join(outDir, "tether-esp32.mjs") });
    } else {
      log(`build:xs: ${path.relative(repoRoot, ESP32_ENTRY)} does not exist; skipping tether-esp32.mjs`);
    }
  }
  for (const job of jobs) {
    const r = await bundleForXs(job.entry, job.outFile, "esm", { define: options.define, minify: options.minify });
    built.push({ ...job, bytes: r.bytes });
    const externals = new Set();
    for (const input of Object.values(r.metafile.inputs)) for (const imp of input.imports) if (imp.external && !imp.path.startsWith("<")) externals.add(imp.path);
    log(
      `build:xs: ${path.relative(process.cwd(), job.outFile)}  ${(r.bytes / 1024).toFixed(1)} KiB` +
        (externals.size ? `  (external: ${[...externals].sort().join(", ")})` : ""),
    );
  }
  return built;
}

/** The fleet's shard worker threads start from this bundle, written next to the CLI bundle (host-sim/fleet/run.ts). */
export const SHARD_WORKER_BUNDLE = "fleet-shard.js";

/**
 * Builds the host CLI bundle (dist/tether.js), if tools/cli.ts exists, and next to it the
 * fleet's shard worker bundle (dist/fleet-shard.js: the engine without the CLI's brokers,
 * mail and database, so each worker starts faster).
 * @returns {Promise<{ outFile: string, bytes: number } | undefined>}
 */
export async function buildHost(options = {}) {
  const log = options.log ?? ((m) => console.log(m));
  const entry = path.join(repoRoot, "tools", "cli.ts");
  const outFile = options.outFile ?? path.join(repoRoot, "dist", "tether.js");
  if (!fs.existsSync(entry)) {
    log(`build: ${path.relative(repoRoot, entry)} does not exist yet; nothing to build`);
    return undefined;
  }
  const shardFile = path.join(path.dirname(outFile), SHARD_WORKER_BUNDLE);
  const bundle = (entryPoint, outfile) =>
    esbuild.build({
      entryPoints: [entryPoint],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      outfile,
      sourcemap: true,
      logLevel: "silent",
    });
  try {
    await Promise.all([bundle(entry, outFile), bundle(path.join(repoRoot, "host-sim", "fleet", "shard-worker.ts"), shardFile)]);
  } catch (err) {
    rethrow(err, "host build");
  }
  const bytes = fs.statSync(outFile).size;
  log(`build: ${path.relative(process.cwd(), outFile)}  ${(bytes / 1024).toFixed(1)} KiB, ${SHARD_WORKER_BUNDLE} ${(fs.statSync(shardFile).size / 1024).toFixed(1)} KiB`);
  return { outFile, bytes };
}

function parseDefines(argv) {
  const define = {};
  for (const a of argv) {
    const m = /^--define:([A-Za-z_$][\w$.]*)=(.*)$/s.exec(a);
    if (!m) continue;
    let v = m[2];
    try {
      JSON.parse(v);
    } catch {
      v = JSON.stringify(v);
    }
    define[m[1]] = v;
  }
  return define;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [target, ...rest] = process.argv.slice(2);
  const run =
    target === "xs"
      ? () => buildXs({ minify: rest.includes("--minify"), define: parseDefines(rest) })
      : target === "host"
        ? () => buildHost()
        : undefined;
  if (!run) {
    console.error("usage: node scripts/build.mjs xs|host [--minify] [--define:NAME=VALUE]");
    process.exit(2);
  }
  run().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}

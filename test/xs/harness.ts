/**
 * The XS tier: runs a device scenario inside a real XS engine (xsnap, built from the
 * @agoric/xsnap npm package) and, for comparison, inside Node.
 *
 * A scenario is a TypeScript module exporting `run(host: ScenarioHost)` (see scenario-host.ts).
 * It is bundled once with the device policy of `npm run build:xs` (ESM, platform neutral,
 * Moddable specifiers external, tweetnacl's crypto aliased to the device shim, Node builtins
 * forbidden), so XS and Node execute the same bytes.
 *
 * Under XS a small loader script (`xsnap -s`) defines `console` (xsnap has none), builds
 * the host, dynamically imports the bundle and calls `run(host)`. The harness fails on
 * anything that is not a clean run. xsnap exits 0 for module errors and for unhandled
 * rejections, so the exit code alone proves nothing. It fails on: a non-zero exit, a signal,
 * a missing completion sentinel, an error reported by the loader, any `unhandled rejection`
 * / `unhandled exception` / engine abort text, any stderr output, or a timeout.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { bundleForXs, repoRoot } from "../../scripts/build.mjs";
import { ensureXsnap as ensureXsnapBinary } from "../../scripts/build-xsnap.mjs";
import type { ScenarioHost } from "./scenario-host";

export type { ScenarioHost } from "./scenario-host";

export const TRACE_PREFIX = "@@tether-trace@@ ";
const ERROR_PREFIX = "@@tether-error@@ ";
const DONE_PREFIX = "@@tether-done@@ ";

/** Text xsnap prints when something went wrong that the loader could not catch. */
const ENGINE_FAILURE =
  /unhandled exception|unhandled rejection|UnhandledPromiseRejectionWarning|stack overflow|memory full|not enough keys|too much computation|fxAbort\(|XS abort/i;

export interface ScenarioResult {
  /** The emitted trace lines, in order, without the prefix. */
  lines: string[];
  /** XS only: computrons spent from the start of `run` until it settled. */
  computrons?: number;
  /** Everything the engine printed (stdout, then stderr if any). Node: the trace lines. */
  raw: string;
}

export interface XsRunOptions {
  /** Kill xsnap after this long (default 60 s). */
  timeoutMs?: number;
  /**
   * xsnap `-l`: abort once this many computrons pass without a `host.meter()` call (each
   * call resets the meter). A deterministic hang guard.
   */
  meteringLimit?: number;
  /** esbuild defines for the scenario bundle. */
  define?: Record<string, string>;
  /**
   * What to do with the bundle directory (node_modules/.cache/tether-xs-scenarios/*):
   * "on-failure" (default) keeps it for debugging when the run fails, "always", or "never".
   * Directories older than a day are pruned.
   */
  keep?: "on-failure" | "always" | "never";
  /** Run on an xsnap built with this many XS stack slots (e.g. the ESP32 manifest's 1,536) instead of 4,096. */
  stackSlots?: number;
}

export class XsScenarioError extends Error {
  constructor(
    message: string,
    readonly raw: string,
    readonly workDir?: string,
  ) {
    super(message);
    this.name = "XsScenarioError";
  }
}

const xsnapPaths = new Map<number | undefined, Promise<string>>();

/** The path of the cached xsnap binary (or its variant with `stackSlots`), building it first if needed. */
export function ensureXsnap(stackSlots?: number): Promise<string> {
  let p = xsnapPaths.get(stackSlots);
  if (p === undefined) {
    p = ensureXsnapBinary({ stackSlots, log: (m) => process.stderr.write(`${m}\n`) }).catch((e: unknown) => {
      xsnapPaths.delete(stackSlots);
      throw e;
    });
    xsnapPaths.set(stackSlots, p);
  }
  return p;
}

const workRoot = path.join(repoRoot, "node_modules", ".cache", "tether-xs-scenarios");

function resolveEntry(entryTs: string | URL): string {
  const p = entryTs instanceof URL || entryTs.startsWith("file:") ? new URL(entryTs).pathname : entryTs;
  const abs = path.resolve(repoRoot, p);
  if (!fs.existsSync(abs)) throw new Error(`scenario entry not found: ${abs}`);
  return abs;
}

const PRUNE_AGE_MS = 24 * 3600_000;
let pruned = false;

function pruneOldWorkDirs(): void {
  if (pruned) return;
  pruned = true;
  for (const name of fs.readdirSync(workRoot)) {
    const p = path.join(workRoot, name);
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > PRUNE_AGE_MS) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // Another worker pruned it first.
    }
  }
}

async function bundleScenario(entry: string, options: XsRunOptions) {
  fs.mkdirSync(workRoot, { recursive: true });
  pruneOldWorkDirs();
  const dir = fs.mkdtempSync(path.join(workRoot, `${path.basename(entry).replace(/\.[^.]+$/, "")}-`));
  const outFile = path.join(dir, "scenario.mjs");
  try {
    await bundleForXs(entry, outFile, "esm", { define: options.define });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, outFile };
}

/** The XS loader: a plain script run with `xsnap -s`. */
function loaderSource(bundlePath: string): string {
  return `(function () {
  "use strict";
  var TRACE = ${JSON.stringify(TRACE_PREFIX)}, ERROR = ${JSON.stringify(ERROR_PREFIX)}, DONE = ${JSON.stringify(DONE_PREFIX)};
  function fmtOne(a) {
    if (typeof a === "string") return a;
    if (a instanceof Error) return a.stack ? String(a.stack) : String(a);
    if (typeof a === "object" && a !== null) { try { return JSON.stringify(a); } catch (e) { return String(a); } }
    return String(a);
  }
  function fmt(args) { return Array.prototype.map.call(args, fmtOne).join(" "); }
  function sink(tag) { return function () { print("[console." + tag + "] " + fmt(arguments)); }; }
  globalThis.console = { log: sink("log"), info: sink("info"), debug: sink("debug"), warn: sink("warn"), error: sink("error"), trace: sink("trace") };
  var total = 0;
  var host = Object.freeze({
    emit: function (line) {
      if (typeof line !== "string") throw new TypeError("host.emit: the line must be a string");
      if (/[\\r\\n]/.test(line)) throw new TypeError("host.emit: the line must not contain a newline");
      print(TRACE + line);
    },
    meter: function () { var c = resetMeter(0, 0); total += c; return c; }
  });
  import(${JSON.stringify(bundlePath)}).then(function (ns) {
    var run = typeof ns.run === "function" ? ns.run : (ns.default && typeof ns.default.run === "function") ? ns.default.run : undefined;
    if (run === undefined) throw new Error("the scenario module exports no run(host) function");
    resetMeter(0, 0);
    total = 0;
    return run(host);
  }).then(function () {
    total += resetMeter(0, 0);
    print(DONE + total);
  }, function (e) {
    print(ERROR + fmtOne(e));
  });
})();
`;
}

interface ProcessOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runProcess(bin: string, args: string[], cwd: string, timeoutMs: number): Promise<ProcessOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Splits engine output into trace lines and everything else, and judges the run. */
export function judgeXsOutput(out: ProcessOutput): { lines: string[]; computrons?: number; problems: string[] } {
  const lines: string[] = [];
  const problems: string[] = [];
  let computrons: number | undefined;
  let done = 0;
  for (const line of out.stdout.split("\n")) {
    if (line.startsWith(TRACE_PREFIX)) {
      lines.push(line.slice(TRACE_PREFIX.length));
      continue;
    }
    if (line.startsWith(DONE_PREFIX)) {
      done++;
      computrons = Number(line.slice(DONE_PREFIX.length));
      continue;
    }
    if (line.startsWith(ERROR_PREFIX)) {
      problems.push(`the scenario failed: ${line.slice(ERROR_PREFIX.length)}`);
      continue;
    }
    if (ENGINE_FAILURE.test(line)) problems.push(`engine reported: ${line.trim()}`);
  }
  if (out.timedOut) problems.push("timed out: the scenario did not finish (a hang, or an endless loop); xsnap was killed");
  else if (out.signal) problems.push(`xsnap was killed by ${out.signal}`);
  else if (out.code !== 0) problems.push(`xsnap exited with code ${out.code}`);
  if (out.stderr.trim() !== "") problems.push(`xsnap wrote to stderr: ${out.stderr.trim().split("\n")[0]}`);
  if (done === 0 && problems.length === 0) {
    problems.push(
      "no completion sentinel: run(host) never settled (XS has no setTimeout, so a promise waiting on a timer never resolves)",
    );
  }
  if (done > 1) problems.push("the completion sentinel was printed more than once");
  return { lines, computrons, problems };
}

/**
 * Runs `entryTs` (a scenario module path, absolute or relative to the repo root, or a file URL)
 * inside xsnap. Rejects with an XsScenarioError carrying the engine output on any failure.
 */
export async function runScenarioInXs(entryTs: string | URL, options: XsRunOptions = {}): Promise<ScenarioResult> {
  const entry = resolveEntry(entryTs);
  const [bin, bundle] = await Promise.all([ensureXsnap(options.stackSlots), bundleScenario(entry, options)]);
  const loader = path.join(bundle.dir, "loader.js");
  fs.writeFileSync(loader, loaderSource(bundle.outFile));
  const args = options.meteringLimit ? ["-l", String(options.meteringLimit), "-s", loader] : ["-s", loader];
  const out = await runProcess(bin, args, bundle.dir, options.timeoutMs ?? 60_000);
  const raw = out.stderr ? `${out.stdout}\n[stderr]\n${out.stderr}` : out.stdout;
  const verdict = judgeXsOutput(out);
  const keep = options.keep ?? "on-failure";
  if (verdict.problems.length) {
    const rel = path.relative(repoRoot, entry);
    const kept = keep !== "never";
    if (!kept) fs.rmSync(bundle.dir, { recursive: true, force: true });
    throw new XsScenarioError(
      `XS scenario ${rel} failed:\n  - ${verdict.problems.join("\n  - ")}\n` +
        (kept ? `bundle kept in ${path.relative(repoRoot, bundle.dir)} (run: ${bin} -s ${loader})\n` : "") +
        `--- xsnap output ---\n${raw.slice(-20_000)}`,
      raw,
      kept ? bundle.dir : undefined,
    );
  }
  if (keep !== "always") fs.rmSync(bundle.dir, { recursive: true, force: true });
  return { lines: verdict.lines, computrons: verdict.computrons, raw };
}

/**
 * Runs the same scenario bundle inside this Node process. `meter()` returns 0.
 * Rejects if `run` throws or if a promise rejection goes unhandled during the run.
 */
export async function runScenarioOnNode(entryTs: string | URL, options: XsRunOptions = {}): Promise<ScenarioResult> {
  const entry = resolveEntry(entryTs);
  const bundle = await bundleScenario(entry, options);
  const lines: string[] = [];
  const host: ScenarioHost = Object.freeze({
    emit(line: string) {
      if (typeof line !== "string") throw new TypeError("host.emit: the line must be a string");
      if (/[\r\n]/.test(line)) throw new TypeError("host.emit: the line must not contain a newline");
      lines.push(line);
    },
    meter: () => 0,
  });
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on("unhandledRejection", onRejection);
  try {
    const ns = (await import(pathToFileURL(bundle.outFile).href)) as {
      run?: (h: ScenarioHost) => unknown;
      default?: { run?: (h: ScenarioHost) => unknown };
    };
    const run = ns.run ?? ns.default?.run;
    if (typeof run !== "function") throw new Error("the scenario module exports no run(host) function");
    await run(host);
    // Give Node's unhandled-rejection tracking a macrotask to report.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("unhandledRejection", onRejection);
    if (options.keep !== "always") fs.rmSync(bundle.dir, { recursive: true, force: true });
  }
  if (rejections.length) {
    throw new Error(`Node scenario ${path.relative(repoRoot, entry)} left an unhandled rejection: ${String(rejections[0])}`);
  }
  return { lines, raw: lines.join("\n") };
}

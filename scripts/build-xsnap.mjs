#!/usr/bin/env node
// Builds the standalone `xsnap` binary (a real XS engine) from the @agoric/xsnap npm package
// and caches it under node_modules/.cache/tether-xsnap/<key>/xsnap.
//
// npm 11 skips that package's postinstall, so this is explicit. The cache key holds the
// package version and a hash of its build inputs, so a package upgrade rebuilds.
// Concurrent callers (parallel vitest workers) serialise on a mkdir lock; the binary is
// built in a private directory and renamed into place, so nobody sees a half-written file.
//
// Usage: node scripts/build-xsnap.mjs [--force] [--print-path]
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..");
const pkgDir = path.join(repoRoot, "node_modules", "@agoric", "xsnap");
const cacheRoot = path.join(repoRoot, "node_modules", ".cache", "tether-xsnap");

/** A stale lock (its owner died) is broken after this long without progress. */
const LOCK_STALE_MS = 10 * 60_000;
const LOCK_POLL_MS = 250;

function readPkgVersion() {
  const pkgJson = path.join(pkgDir, "package.json");
  if (!fs.existsSync(pkgJson)) {
    throw new Error(`@agoric/xsnap is not installed (${pkgJson} is missing); run \`npm ci\` first`);
  }
  return JSON.parse(fs.readFileSync(pkgJson, "utf8")).version;
}

/** The cache key: package version plus a hash of what the build depends on. */
export function xsnapCacheKey() {
  const version = readPkgVersion();
  const h = createHash("sha256");
  for (const f of ["build.env", "xsnap-native/xsnap/makefiles/lin/xsnap.mk"]) {
    const p = path.join(pkgDir, f);
    if (fs.existsSync(p)) h.update(f).update(fs.readFileSync(p));
  }
  h.update(`${process.platform}-${process.arch}`);
  return `${version}-${h.digest("hex").slice(0, 10)}`;
}

/**
 * The ESP32 manifest's XS stack (manifests/esp32/agent.json creation.stack); xsnap's own is
 * 4,096 slots and has no option to change it, so a variant binary is built with this many.
 */
export const ESP32_STACK_SLOTS = 1536;
/** The literal in xsnap.c's xsCreation that sets the stack, replaced for a variant build. */
const STACK_LITERAL = /4096,(\s*\/\* stackCount \*\/)/;

function cacheKeyFor(stackSlots, worker = false) {
  const base = stackSlots === undefined ? xsnapCacheKey() : `${xsnapCacheKey()}-stack${stackSlots}`;
  return worker ? `${base}-worker` : base;
}

/**
 * Where the cached binary lives (it may not exist yet). `worker`: xsnap-worker, the same engine
 * driven over the host command channel (netstrings on fds 3 and 4: the host's `?` commands reach
 * `handleCommand`, the program's `issueCommand` waits for the host's answer; `-l` meters each
 * command), which host-sim uses to run devices inside XS.
 */
export function xsnapBinaryPath(stackSlots, worker = false) {
  return path.join(cacheRoot, cacheKeyFor(stackSlots, worker), worker ? "xsnap-worker" : "xsnap");
}

/**
 * A private copy of xsnap's own sources and makefile with another stack size; the XS engine
 * sources stay where they are (the makefile takes them from MODDABLE).
 */
function patchedSourceTree(buildDir, stackSlots) {
  const from = path.join(pkgDir, "xsnap-native", "xsnap");
  const to = path.join(buildDir, "xsnap-src");
  for (const sub of ["sources", "makefiles"]) fs.cpSync(path.join(from, sub), path.join(to, sub), { recursive: true });
  for (const name of ["xsnap.c", "xsnap-worker.c"]) {
    const main = path.join(to, "sources", name);
    const text = fs.readFileSync(main, "utf8");
    if (!STACK_LITERAL.test(text)) throw new Error(`build-xsnap: ${name} has no stackCount literal to patch (package changed?)`);
    fs.writeFileSync(main, text.replace(STACK_LITERAL, `${stackSlots},$1`));
  }
  return path.join(to, "makefiles", "lin");
}

function haveTool(cmd, args = ["--version"]) {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return !r.error;
}

function checkToolchain() {
  if (process.platform !== "linux") {
    throw new Error(
      `build-xsnap: only Linux is supported here (platform ${process.platform}); ` +
        `the makefiles used are xsnap-native/xsnap/makefiles/lin`,
    );
  }
  const missing = [];
  if (!haveTool("make")) missing.push("make");
  if (!haveTool("cc")) missing.push("cc (a C compiler)");
  if (missing.length) {
    throw new Error(
      `build-xsnap: cannot build the XS engine: ${missing.join(" and ")} not found on PATH.\n` +
        `Install a C toolchain (Debian/Ubuntu: \`apt-get install build-essential\`) and retry.`,
    );
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function works(bin) {
  try {
    const r = spawnSync(bin, ["-v"], { encoding: "utf8", timeout: 20_000 });
    return r.status === 0 && /(^|\()XS \d/m.test(r.stdout); // xsnap: "XS 13.3.0"; xsnap-worker: "xsnap v (XS 13.3.0)"
  } catch {
    return false;
  }
}

/** Runs make; resolves on success, rejects with its output on failure. */
function runMake(buildDir, log, makeDir = path.join(pkgDir, "xsnap-native", "xsnap", "makefiles", "lin"), worker = false) {
  const moddable = path.join(pkgDir, "moddable");
  const jobs = Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8));
  const args = ["-C", makeDir, "-f", worker ? "xsnap-worker.mk" : "xsnap.mk", `MODDABLE=${moddable}`, "GOAL=release", `BUILD_DIR=${buildDir}`, `-j${jobs}`];
  // xsnap-worker.mk takes its own sources from $(CURDIR)/../../sources: the patched copy when makeDir is one.
  if (worker) args.push(`TLS_DIR=${path.resolve(makeDir, "..", "..", "sources")}`, "XSNAP_VERSION=tether");
  log(`build-xsnap: make ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn("make", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (e) => reject(new Error(`build-xsnap: could not run make: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`build-xsnap: make failed (${signal ?? `exit ${code}`}):\n${out.slice(-8000)}`));
    });
  });
}

async function acquireLock(lockDir, log) {
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, "owner"), `${process.pid}\n${new Date().toISOString()}\n`);
      return;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    // Someone else holds it. Break it only if it is stale (owner dead or too old).
    let stale = false;
    try {
      const age = Date.now() - fs.statSync(lockDir).mtimeMs;
      let owner = NaN;
      try {
        owner = Number.parseInt(fs.readFileSync(path.join(lockDir, "owner"), "utf8"), 10);
      } catch {
        // Not written yet, or its writer died right after mkdir: judge by age alone.
      }
      let alive = age < 30_000;
      if (Number.isInteger(owner)) {
        try {
          process.kill(owner, 0);
          alive = true;
        } catch (err) {
          alive = err.code === "EPERM";
        }
      }
      stale = !alive || age > LOCK_STALE_MS;
    } catch {
      // The lock vanished meanwhile: retry at once.
      continue;
    }
    if (stale) {
      log(`build-xsnap: breaking a stale lock at ${lockDir}`);
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log("build-xsnap: another process is building xsnap; waiting");
      announced = true;
    }
    await sleep(LOCK_POLL_MS);
  }
}

/**
 * Returns the path of a working xsnap binary, building it first if it is not cached.
 * `stackSlots` builds (and caches separately) a variant with that XS stack size;
 * `worker` builds xsnap-worker instead of xsnap (see xsnapBinaryPath).
 * @param {{ force?: boolean, log?: (msg: string) => void, stackSlots?: number, worker?: boolean }} [options]
 */
export async function ensureXsnap(options = {}) {
  const log = options.log ?? ((m) => process.stderr.write(`${m}\n`));
  const stackSlots = options.stackSlots;
  if (stackSlots !== undefined && (!Number.isInteger(stackSlots) || stackSlots < 256)) throw new Error(`build-xsnap: bad stack size ${stackSlots}`);
  const worker = options.worker === true;
  const name = worker ? "xsnap-worker" : "xsnap";
  const key = cacheKeyFor(stackSlots, worker);
  const finalDir = path.join(cacheRoot, key);
  const bin = path.join(finalDir, name);
  if (!options.force && fs.existsSync(bin)) return bin;

  checkToolchain();
  fs.mkdirSync(cacheRoot, { recursive: true });
  const lockDir = path.join(cacheRoot, `${key}.lock`);
  await acquireLock(lockDir, log);
  try {
    // A concurrent caller may have finished while we waited.
    if (!options.force && fs.existsSync(bin)) return bin;
    const t0 = Date.now();
    const buildDir = fs.mkdtempSync(path.join(cacheRoot, `${key}.build-`));
    try {
      await runMake(buildDir, log, stackSlots === undefined ? undefined : patchedSourceTree(buildDir, stackSlots), worker);
      const built = path.join(buildDir, "bin", "lin", "release", name);
      if (!fs.existsSync(built)) throw new Error(`build-xsnap: make succeeded but ${built} is missing`);
      if (!works(built)) throw new Error(`build-xsnap: the built binary ${built} does not run (xsnap -v failed)`);
      fs.mkdirSync(finalDir, { recursive: true });
      const tmp = path.join(finalDir, `${name}.tmp-${process.pid}`);
      fs.copyFileSync(built, tmp);
      fs.chmodSync(tmp, 0o755);
      fs.renameSync(tmp, bin); // atomic on the same filesystem
    } finally {
      fs.rmSync(buildDir, { recursive: true, force: true });
    }
    log(`build-xsnap: built ${path.relative(repoRoot, bin)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return bin;
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const force = process.argv.includes("--force");
  const printPath = process.argv.includes("--print-path");
  ensureXsnap({ force }).then(
    (bin) => {
      const v = spawnSync(bin, ["-v"], { encoding: "utf8" }).stdout.trim();
      if (printPath) process.stdout.write(`${bin}\n`);
      else process.stdout.write(`xsnap ready: ${path.relative(process.cwd(), bin)} (${v})\n`);
    },
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}

#!/usr/bin/env node
// The `tether` CLI. Runs dist/tether.js, building it first (esbuild) when it is missing or
// older than any source it is built from, so a fresh clone works right after `npm ci`.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { missingNodeFlags, rerunWithNodeFlags, SIM_NODE_FLAGS } from "./node-flags.mjs";

// `tether sim` runs in a Node started with SIM_NODE_FLAGS (heap sizes are fixed at start-up);
// not under a debugger, which is attached to this process (a second one could not take its port).
const args = process.argv.slice(2);
const debugging = process.execArgv.some((f) => f.startsWith("--inspect"));
if (args[0] === "sim" && !debugging) {
  const missing = missingNodeFlags(SIM_NODE_FLAGS);
  if (missing.length > 0) {
    process.exitCode = await rerunWithNodeFlags(fileURLToPath(import.meta.url), args, missing);
    process.exit();
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "dist", "tether.js");
const SOURCE_DIRS = ["tools", "device", "host-sim", "bootloader-spec", "service"];

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const stale = () => {
  const built = statSync(bundle).mtimeMs;
  return SOURCE_DIRS.some((d) => existsSync(join(root, d)) && newestSource(join(root, d)) > built);
};

// The fleet's shard workers start from their own bundle, built with the CLI's.
const shardBundle = join(root, "dist", "fleet-shard.js");
if (!existsSync(bundle) || !existsSync(shardBundle) || stale()) {
  const { buildHost } = await import(pathToFileURL(join(root, "scripts", "build.mjs")).href);
  await buildHost({ log: () => {} });
}

const { main } = await import(pathToFileURL(bundle).href);
const code = await main(args);
if (typeof code === "number") process.exitCode = code;

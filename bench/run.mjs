#!/usr/bin/env node
// Runs the benchmarks: bench/*.bench.ts (not tests; they print numbers and write JSON).
//
//   npm run bench                 all benches
//   npm run bench -- xs           only benches whose name contains "xs" (or only xs.bench.ts if it exists)
//   BENCH_OUT=NAME npm run bench -- fleet   one bench, results in bench/results/NAME.json
//
// Each bench file's default export is `async () => object`. The runner compiles the file
// with esbuild (node platform, packages external) into node_modules/.cache/tether-bench/,
// runs it in a fresh `node --expose-gc` child (so heap measurements can force a GC and
// benches do not disturb each other), prints a summary and writes
// bench/results/<name>.json = { name, date, node, host: { cpus, model }, results }.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compileTs } from "../scripts/run-ts.mjs";
import { SIM_NODE_FLAGS } from "../bin/node-flags.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");
const cacheDir = path.join(repoRoot, "node_modules", ".cache", "tether-bench");
const resultsDir = path.join(here, "results");
/** Node flags a bench's child runs with: the fleet bench measures what `tether sim` runs with. */
const BENCH_NODE_FLAGS = { fleet: SIM_NODE_FLAGS, "fleet-v1": SIM_NODE_FLAGS };

// ---------------------------------------------------------------- child mode
// node --expose-gc bench/run.mjs --child <compiled.mjs> <result.json>
if (process.argv[2] === "--child") {
  const [compiled, resultFile] = process.argv.slice(3);
  const mod = await import(pathToFileURL(compiled).href);
  if (typeof mod.default !== "function") {
    throw new Error("a bench file must `export default async () => ({ ...results })`");
  }
  const results = await mod.default();
  fs.writeFileSync(resultFile, JSON.stringify(results ?? {}));
  process.exit(0);
}

// ---------------------------------------------------------------- parent mode
function formatValue(v) {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return v.toLocaleString("en-US", { maximumSignificantDigits: 4 });
  }
  return JSON.stringify(v);
}

function summarize(obj, indent = "  ") {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      out.push(`${indent}${k}:`);
      out.push(...summarize(v, `${indent}  `));
    } else {
      out.push(`${indent}${k}: ${formatValue(v)}`);
    }
  }
  return out;
}

function runChild(compiled, resultFile, nodeFlags) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--enable-source-maps", ...nodeFlags, fileURLToPath(import.meta.url), "--child", compiled, resultFile],
      { stdio: "inherit" },
    );
    child.on("exit", (code, signal) => resolve(signal ? `killed by ${signal}` : code === 0 ? undefined : `exit ${code}`));
  });
}

async function main() {
  const filter = process.argv.slice(2).find((a) => !a.startsWith("-")) ?? "";
  const files = fs
    .readdirSync(here)
    .filter((f) => f.endsWith(".bench.ts"))
    .sort()
    .filter((f) => f.replace(/\.bench\.ts$/, "").includes(filter))
    // A name given exactly runs only that bench ("fleet" is not also "fleet-service").
    .filter((f, _, all) => !all.includes(`${filter}.bench.ts`) || f === `${filter}.bench.ts`);
  if (files.length === 0) {
    console.error(`bench: no bench/*.bench.ts matches "${filter}"`);
    process.exit(1);
  }
  fs.mkdirSync(resultsDir, { recursive: true });
  const cpus = os.cpus();
  const host = { cpus: cpus.length, model: cpus[0]?.model?.trim() ?? "unknown" };
  let failures = 0;
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, "");
    console.log(`\n== ${name}`);
    const t0 = Date.now();
    let error;
    let results;
    try {
      const compiled = await compileTs(path.join(here, file), { outDir: cacheDir });
      const resultFile = path.join(cacheDir, `${name}.result-${process.pid}.json`);
      fs.rmSync(resultFile, { force: true });
      error = await runChild(compiled, resultFile, BENCH_NODE_FLAGS[name] ?? []);
      if (!error) {
        results = JSON.parse(fs.readFileSync(resultFile, "utf8"));
        fs.rmSync(resultFile, { force: true });
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (error) {
      failures++;
      console.error(`bench ${name} FAILED: ${error}`);
      continue;
    }
    const record = { name, date: new Date().toISOString(), node: process.version, nodeFlags: BENCH_NODE_FLAGS[name] ?? [], host, results };
    // BENCH_OUT names the results file when one bench runs (another size beside the default one).
    const out = path.join(resultsDir, `${files.length === 1 && process.env.BENCH_OUT ? process.env.BENCH_OUT : name}.json`);
    fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
    console.log(summarize(results).join("\n"));
    console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s, wrote ${path.relative(process.cwd(), out)})`);
  }
  if (failures) {
    console.error(`\n${failures} bench(es) failed`);
    process.exit(1);
  }
}

await main();

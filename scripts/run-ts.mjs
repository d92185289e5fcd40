#!/usr/bin/env node
// Runs a TypeScript file with Node: compiles it and its imports with esbuild into
// node_modules/.cache/tether-run/ and runs the result, passing the remaining arguments.
//
//   node scripts/run-ts.mjs test/fuzz/long-fuzz.ts --seed 42
//
// npm packages stay external (Node resolves them from the repo's node_modules). Plain .mjs
// files of the repo (scripts/*.mjs) stay external too, imported by absolute URL. In the
// repo's own sources `import.meta.url`, `import.meta.dirname` and `import.meta.filename`
// are replaced by the original file's values, so path arithmetic still works after bundling.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");
const defaultOutDir = path.join(repoRoot, "node_modules", ".cache", "tether-run");

const SOURCE_FILE = /\.(?:[mc]?ts|tsx|[mc]?js|jsx)$/;
const LOADERS = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx" };

function inNodeModules(p) {
  return /[\\/]node_modules[\\/]/.test(p);
}

/** esbuild plugin: keeps the repo's .mjs scripts external and fixes import.meta per source file. */
export function nodeSourcePlugin() {
  return {
    name: "tether-node-source",
    setup(build) {
      build.onResolve({ filter: /\.mjs$/ }, (args) => {
        if (args.kind === "entry-point" || !args.path.startsWith(".")) return undefined;
        const abs = path.resolve(args.resolveDir, args.path);
        if (inNodeModules(abs) || !fs.existsSync(abs)) return undefined;
        return { path: pathToFileURL(abs).href, external: true };
      });
      build.onLoad({ filter: SOURCE_FILE }, async (args) => {
        if (inNodeModules(args.path)) return undefined;
        const source = await fs.promises.readFile(args.path, "utf8");
        if (!source.includes("import.meta")) return undefined;
        const values = {
          url: JSON.stringify(pathToFileURL(args.path).href),
          dirname: JSON.stringify(path.dirname(args.path)),
          filename: JSON.stringify(args.path),
        };
        const contents = source.replace(/\bimport\.meta\.(url|dirname|filename)\b/g, (_, k) => values[k]);
        return { contents, loader: LOADERS[path.extname(args.path)] ?? "ts", resolveDir: path.dirname(args.path) };
      });
    },
  };
}

/**
 * Compiles `entry` (and its imports) into one ESM file for Node.
 * @param {string} entry
 * @param {{ outDir?: string, outFile?: string }} [options]
 * @returns {Promise<string>} the output path
 */
export async function compileTs(entry, options = {}) {
  const abs = path.resolve(entry);
  if (!fs.existsSync(abs)) throw new Error(`run-ts: no such file: ${entry}`);
  const rel = path.relative(repoRoot, abs);
  const stem = rel.replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9._-]+/g, "_");
  const hash = createHash("sha256").update(abs).digest("hex").slice(0, 8);
  const outFile = options.outFile ?? path.join(options.outDir ?? defaultOutDir, `${stem}-${hash}.mjs`);
  try {
    await esbuild.build({
      entryPoints: [abs],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      outfile: outFile,
      sourcemap: "inline",
      sourcesContent: false,
      plugins: [nodeSourcePlugin()],
      logLevel: "silent",
    });
  } catch (err) {
    const errors = err?.errors ?? [];
    if (!errors.length) throw err;
    const text = errors
      .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
      .join("\n");
    throw new Error(`run-ts: compiling ${rel} failed:\n${text}`);
  }
  return outFile;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [file, ...args] = process.argv.slice(2);
  if (!file) {
    console.error("usage: node scripts/run-ts.mjs FILE.ts [args...]");
    process.exit(2);
  }
  let outFile;
  try {
    outFile = await compileTs(file);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
  const child = spawn(process.execPath, [...process.execArgv, "--enable-source-maps", outFile, ...args], { stdio: "inherit" });
  const forward = (sig) => () => child.kill(sig);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, forward(sig));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

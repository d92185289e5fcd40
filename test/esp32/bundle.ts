/**
 * Bundles an ESP32 scenario with the Moddable specifiers aliased to the fakes in
 * test/fakes/moddable (the device policy of scripts/build.mjs otherwise: XS-safe, no Node).
 * The output is a self-contained ESM file that test/xs/harness.ts runs in XS and in Node.
 */
import fs from "node:fs";
import path from "node:path";
import * as esbuild from "esbuild";
import { repoRoot, xsBuildOptions } from "../../scripts/build.mjs";
import { FAKE_MODULES } from "../fakes/moddable/aliases";
import { runScenarioInXs, runScenarioOnNode, type ScenarioResult } from "../xs/harness";

const FAKES_DIR = path.join(repoRoot, "test", "fakes", "moddable");
const OUT_DIR = path.join(repoRoot, "node_modules", ".cache", "tether-esp32-scenarios");

export function fakeAliasPlugin(): esbuild.Plugin {
  return {
    name: "tether-moddable-fakes",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        const file = FAKE_MODULES[args.path];
        return file === undefined ? undefined : { path: path.join(FAKES_DIR, file) };
      });
    },
  };
}

/** Bundles `entry` (repo-relative or absolute) with the fakes; returns the output path. */
export async function bundleWithFakes(entry: string): Promise<string> {
  const abs = path.resolve(repoRoot, entry);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const outFile = path.join(OUT_DIR, `${path.basename(abs).replace(/\.ts$/, "")}-${process.pid}-${Date.now()}.mjs`);
  const options = xsBuildOptions({ entry: abs, outFile, format: "esm" }) as esbuild.BuildOptions;
  options.plugins = [fakeAliasPlugin(), ...(options.plugins ?? [])];
  // Nothing may stay external: the scenario runs without a Moddable runtime.
  options.external = [];
  const result = await esbuild.build(options);
  const externals = Object.values(result.metafile!.inputs).flatMap((i) => i.imports.filter((x) => x.external && x.path !== "<runtime>").map((x) => x.path));
  if (externals.length) throw new Error(`${entry}: unaliased Moddable modules ${[...new Set(externals)].join(", ")}; add fakes for them`);
  return outFile;
}

/** Bundles `entry` with the fakes, runs it in XS and in Node, and removes the bundle. */
export async function runEsp32Scenario(entry: string): Promise<{ xs: ScenarioResult; node: ScenarioResult }> {
  const bundle = await bundleWithFakes(entry);
  try {
    const [xs, node] = await Promise.all([runScenarioInXs(bundle), runScenarioOnNode(bundle)]);
    return { xs, node };
  } finally {
    fs.rmSync(bundle, { force: true });
  }
}

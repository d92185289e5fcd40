import type { BuildOptions, Metafile, Plugin } from "esbuild";

export declare const repoRoot: string;
export declare const MODDABLE_BARE_MODULES: readonly string[];
export declare const MODDABLE_EXTERNAL_PATTERNS: readonly string[];
export declare const MODDABLE_EXTERNALS: readonly string[];
export declare const NACL_RANDOM_SHIM: string;
export declare function isModdableSpecifier(spec: string): boolean;
export declare function isNodeBuiltin(spec: string): boolean;
export declare function xsPolicyPlugin(): Plugin;
export declare function xsBuildOptions(o: {
  entry: string;
  outFile?: string;
  format?: "esm" | "iife";
  minify?: boolean;
  define?: Record<string, string>;
  write?: boolean;
  metafile?: boolean;
  sourcemap?: boolean;
}): BuildOptions;
export declare function bundleForXs(
  entry: string,
  outFile: string,
  format?: "esm" | "iife",
  extra?: { define?: Record<string, string>; minify?: boolean },
): Promise<{ outFile: string; bytes: number; metafile: Metafile }>;
export declare function xsBundleGraph(entry: string): Promise<{ inputs: string[]; externals: string[] }>;
export declare function buildXs(options?: {
  outDir?: string;
  agentOut?: string;
  esp32Out?: string;
  define?: Record<string, string>;
  minify?: boolean;
  esp32?: boolean;
  log?: (m: string) => void;
}): Promise<Array<{ name: string; entry: string; outFile: string; bytes: number }>>;
export declare function buildHost(options?: {
  outFile?: string;
  log?: (m: string) => void;
}): Promise<{ outFile: string; bytes: number } | undefined>;

/** Compiles `entry` (and its imports) into one ESM file for Node; resolves to the output path. */
export function compileTs(entry: string, options?: { outDir?: string; outFile?: string }): Promise<string>;
/** esbuild plugin: keeps the repo's .mjs scripts external and fixes import.meta per source file. */
export function nodeSourcePlugin(): import("esbuild").Plugin;

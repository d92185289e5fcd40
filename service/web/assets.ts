/**
 * The dashboard's browser code, bundled by esbuild (uPlot and its CSS included; nothing from a
 * CDN) the first time it is asked for, then kept in memory. `tether sim --report` inlines the
 * same bundle into its self-contained HTML file.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface WebAssets {
  js: string;
  css: string;
}

const ENTRIES = ["main.ts", "report.ts"] as const;
export type WebEntry = (typeof ENTRIES)[number];

/** service/web/client, from this source file or from the CLI bundle in dist/. */
export function clientDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const c of [join(dir, "client"), join(dir, "service", "web", "client")]) if (existsSync(join(c, "main.ts"))) return c;
    dir = dirname(dir);
  }
  throw new Error("dashboard sources (service/web/client) not found next to the tether CLI");
}

const cache = new Map<WebEntry, Promise<WebAssets>>();

export function webAssets(entry: WebEntry = "main.ts"): Promise<WebAssets> {
  let p = cache.get(entry);
  if (!p) {
    p = build(entry);
    cache.set(entry, p);
    p.catch(() => cache.delete(entry));
  }
  return p;
}

async function build(entry: WebEntry): Promise<WebAssets> {
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    entryPoints: [join(clientDir(), entry)],
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    write: false,
    outdir: "out",
    logLevel: "silent",
  });
  const js = r.outputFiles.find((f) => f.path.endsWith(".js"))?.text ?? "";
  const css = r.outputFiles.find((f) => f.path.endsWith(".css"))?.text ?? "";
  return { js, css };
}

export function dashboardHtml(title = "Tether fleet"): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/app.css"></head>
<body><header><h1>${title}</h1><nav><a href="#/">Overview</a><a href="#/alerts">Alerts</a><a href="#/rollouts">Rollouts</a><a href="#/devices">Devices</a></nav><span id="live">connecting…</span></header>
<main id="main"><p class="muted">loading…</p></main><script src="/app.js"></script></body></html>
`;
}

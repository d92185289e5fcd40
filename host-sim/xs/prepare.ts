/**
 * Gets devices-inside-XS ready for a run (Node only): the xsnap-worker built with the ESP32
 * manifest's stack (cached, about 20 s the first time) and the device runtime bundled for XS
 * with the device policy of `npm run build:xs`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../tools/ota/app-image";
import { NodeXsRunner, type XsRunnerOptions } from "./xs-runner";

interface BuildScripts {
  bundleForXs(entry: string, outFile: string, format: string, extra?: object): Promise<unknown>;
}
interface XsnapScripts {
  ESP32_STACK_SLOTS: number;
  ensureXsnap(o: { stackSlots?: number; worker?: boolean; log?: (m: string) => void }): Promise<string>;
}

/** A runner for XS devices, and a function that stops every worker and removes its files. */
export async function prepareXsRunner(options: Partial<XsRunnerOptions> & { log?: (m: string) => void } = {}): Promise<{ runner: NodeXsRunner; close(): void }> {
  const root = repoRoot();
  const scripts = (p: string) => import(/* @vite-ignore */ path.join(root, "scripts", p));
  const [build, xsnap] = (await Promise.all([scripts("build.mjs"), scripts("build-xsnap.mjs")])) as [BuildScripts, XsnapScripts];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-xs-runtime-"));
  const runtime = path.join(dir, "device-runtime.js");
  const here = path.dirname(fileURLToPath(import.meta.url));
  const entry = fs.existsSync(path.join(here, "device-runtime.ts")) ? path.join(here, "device-runtime.ts") : path.join(root, "host-sim", "xs", "device-runtime.ts");
  const [bin] = await Promise.all([
    options.bin ?? xsnap.ensureXsnap({ stackSlots: xsnap.ESP32_STACK_SLOTS, worker: true, log: options.log }),
    build.bundleForXs(entry, runtime, "iife"),
  ]);
  const runner = new NodeXsRunner({ bin, runtime: options.runtime ?? runtime, meteringLimit: options.meteringLimit });
  return {
    runner,
    close() {
      runner.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

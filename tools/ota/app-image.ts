/**
 * Real agent builds as slot images: the XS device bundle (scripts/build.mjs, the same build
 * `npm run build:xs` makes) with a version define, wrapped in the slot image format; and the
 * way back: evaluate the payload found in a booted slot as an ES module, so which slot boots
 * decides which code runs.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Flash, SlotIndex } from "../../device/ports";
import { SLOT_PARTITIONS } from "../../bootloader-spec/reference/bootloader";
import { decodeHeader, IMAGE_HEADER_SIZE } from "../../bootloader-spec/reference/image";

// (Node only: it lives in tools/ because host-sim/boot type-checks without Node.)

/** The repository root, found upwards from this file: works from the sources and from dist/tether.js. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "device", "core", "index.ts")) && fs.existsSync(path.join(dir, "scripts", "build.mjs"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the Tether sources (device/core/index.ts) to build the agent from");
    dir = up;
  }
}

/** Bundles device/core/index.ts for XS with TETHER_FIRMWARE_VERSION = `version`; returns the ESM bytes. */
export async function buildAgentPayload(version: string): Promise<Uint8Array> {
  const root = repoRoot();
  const build = (await import(pathToFileURL(path.join(root, "scripts", "build.mjs")).href)) as {
    bundleForXs(entry: string, outFile: string, format: string, extra: { define: Record<string, string> }): Promise<unknown>;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-app-"));
  const out = path.join(dir, `agent-${version}.mjs`);
  try {
    await build.bundleForXs(path.join(root, "device", "core", "index.ts"), out, "esm", {
      define: { TETHER_FIRMWARE_VERSION: JSON.stringify(version) },
    });
    return new Uint8Array(fs.readFileSync(out));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Evaluated images by the SHA-256 of their code: a reboot into the same image reuses its module (ES modules are never freed). */
const loaded = new Map<string, Promise<Record<string, unknown>>>();

/** Reads the image in `slot` and evaluates its payload as an ES module (the "CPU" running the slot). */
export async function loadSlotModule(flash: Flash, slot: SlotIndex): Promise<Record<string, unknown>> {
  const part = flash.open(SLOT_PARTITIONS[slot]);
  const header = decodeHeader(part.read(0, IMAGE_HEADER_SIZE));
  if (!header) throw new Error(`slot ${slot} holds no image`);
  const code = part.read(IMAGE_HEADER_SIZE, header.payloadLength);
  const key = createHash("sha256").update(code).digest("hex");
  let mod = loaded.get(key);
  if (mod === undefined) {
    mod = evaluateImageCode(code, `slot${slot}-v${header.version}`);
    loaded.set(key, mod);
  }
  return mod;
}

/** Evaluates agent code as an ES module (written to a temp file, imported, the file removed). */
export async function evaluateImageCode(code: Uint8Array, name: string): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-slot-"));
  const file = path.join(dir, `${name}.mjs`);
  fs.writeFileSync(file, code);
  try {
    return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

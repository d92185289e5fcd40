#!/usr/bin/env node
// Builds the ESP32 agent and flashes it with xs-dev:
//
//   npm run flash -- --port /dev/ttyUSB0 --config.deviceId=esp-0001 --config.broker=mqtts://host:8883 \
//                    --config.wifiSsid=lab --config.wifiPassword=secret --ca broker-ca.pem
//
// 1. `npm run build:xs` logic (scripts/build.mjs): bundles device/platform/moddable/main.ts into
//    dist/xs/tether-esp32.mjs, the module the manifest lists as "main";
// 2. --ca PEM → DER at dist/esp32/broker-ca.der (the manifest's `data` resource for mqtts://);
// 3. `xs-dev run manifests/esp32 --device esp32 --port ... --config.*=...` (mcconfig + ESP-IDF + flash).
//
// Needs the Moddable SDK and ESP-IDF set up once with `npx xs-dev setup --device esp32`.
// --dry-run prints the steps without building or flashing. Other options: --device (default esp32),
// --mode development|production (default development), --log (serial log in the terminal
// instead of xsbug), --help.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..");
export const PROJECT_DIR = path.join(repoRoot, "manifests", "esp32");
export const CA_OUT = path.join(repoRoot, "dist", "esp32", "broker-ca.der");

const USAGE = `usage: npm run flash -- --port <serial port> [--device esp32] [--mode development|production]
                       [--ca <broker CA .pem>] [--config.<key>=<value> ...] [--log] [--dry-run]
config keys: deviceId, broker, wifiSsid, wifiPassword, otaPublicKey, sntp, firmwareVersion,
             telemetryIntervalMs, batteryPin, batteryFullScaleMv (see docs/esp32.md)`;

export class UsageError extends Error {}

/** Parses the command line into options; throws UsageError with a readable message. */
export function parseArgs(argv) {
  const o = { device: "esp32", mode: "development", port: undefined, ca: undefined, config: {}, log: false, dryRun: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag.startsWith("--config.")) {
      const key = flag.slice("--config.".length);
      if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) throw new UsageError(`bad config key "${key}"`);
      o.config[key] = value();
    } else if (flag === "--port") o.port = value();
    else if (flag === "--device") o.device = value();
    else if (flag === "--mode") {
      o.mode = value();
      if (o.mode !== "development" && o.mode !== "production") throw new UsageError("--mode is development or production");
    } else if (flag === "--ca") o.ca = value();
    else if (flag === "--log") o.log = true;
    else if (flag === "--dry-run") o.dryRun = true;
    else if (flag === "--help" || flag === "-h") o.help = true;
    else throw new UsageError(`unknown option ${a}`);
  }
  if (!o.help && !o.port && !o.dryRun) throw new UsageError("--port is required (e.g. --port /dev/ttyUSB0; `npx xs-dev scan` lists ports)");
  if (o.config.broker?.split(",").some((u) => u.trim().startsWith("mqtts://")) && !o.ca && !fs.existsSync(CA_OUT)) {
    throw new UsageError(`an mqtts:// broker needs its CA: pass --ca broker-ca.pem (written to ${path.relative(repoRoot, CA_OUT)})`);
  }
  return o;
}

/** PEM text to DER bytes (the first certificate). */
export function pemToDer(pem) {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new UsageError("the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

/** The xs-dev command line for these options. */
export function xsDevArgs(o) {
  const args = ["xs-dev", "run", PROJECT_DIR, "--device", o.device, "--mode", o.mode];
  if (o.port) args.push("--port", o.port);
  if (o.log) args.push("--log");
  for (const [k, v] of Object.entries(o.config)) args.push(`--config.${k}=${v}`);
  return args;
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit", cwd: repoRoot });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0]} exited with ${code}`))));
  });
}

export async function main(argv) {
  const o = parseArgs(argv);
  if (o.help) {
    console.log(USAGE);
    return;
  }
  const steps = [`bundle device/platform/moddable/main.ts -> dist/xs/tether-esp32.mjs`];
  if (o.ca) steps.push(`${o.ca} -> ${path.relative(repoRoot, CA_OUT)} (DER)`);
  const cmd = xsDevArgs(o);
  steps.push(`npx ${cmd.join(" ")}`);
  if (o.dryRun) {
    for (const s of steps) console.log(s);
    return;
  }
  if (!process.env.MODDABLE) {
    throw new UsageError("MODDABLE is not set: run `npx xs-dev setup --device esp32` once, then open a new shell (docs/esp32.md)");
  }
  const { buildXs } = await import("./build.mjs");
  await buildXs({ log: (m) => console.log(m) });
  // mcconfig fails on a missing data directory (it only warns about a missing file in it).
  fs.mkdirSync(path.dirname(CA_OUT), { recursive: true });
  if (o.ca) fs.writeFileSync(CA_OUT, pemToDer(fs.readFileSync(o.ca, "utf8")));
  await run("npx", cmd);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof UsageError ? `flash: ${e.message}\n${USAGE}` : `flash: ${e.stack ?? e}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}

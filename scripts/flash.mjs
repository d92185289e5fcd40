#!/usr/bin/env node
// Builds the ESP32 agent with the Moddable tools and flashes it:
//
//   npm run flash -- --port /dev/ttyUSB0 --config.deviceId=esp-0001 --config.broker=mqtts://host:8883 \
//                    --config.wifiSsid=lab --config.wifiPassword='s3cret' --ca broker-ca.pem --ota-pub ~/.tether/ota.pub
//
// 1. `npm run build:xs` logic (scripts/build.mjs): bundles device/platform/moddable/main.ts into
//    dist/xs/tether-esp32.mjs, the module the manifest lists as "main";
// 2. --ca PEM → DER at dist/esp32/broker-ca.der (a `data` resource for mqtts://);
// 3. writes the build manifest dist/esp32/build/manifest.json (mode 0600): it includes
//    manifests/esp32/manifest.json (4 MB flash) or manifests/esp32/8mb/manifest.json (--flash-size 8MB)
//    and carries the --config.* values and the CA;
// 4. runs `mcconfig -d -m -p esp32 -t all <build manifest>` (ESP-IDF build, flash, debugger or log);
// 5. prints the app image's size against the app slot (the image budget, docs/esp32.md).
//
// Why not xs-dev: xs-dev 0.30.3 runs mcconfig through a shell (a password with `$`, backticks or
// quotes is expanded or mangled) and exits 0 when the build fails unless --log. Here mcconfig is
// spawned with an argv array, no shell; the configuration travels in the build manifest, so no
// secret is on a command line (`ps`) or printed; mcconfig's exit status is ours.
//
// Needs MODDABLE and IDF_PATH (set up once with `npx xs-dev setup --device esp32`; mcconfig
// sources $IDF_PATH/export.sh itself when idf.py is not on PATH). --dry-run prints the steps.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..");
export const ESP32_MANIFEST = path.join(repoRoot, "manifests", "esp32", "manifest.json");
/** The manifest (partition table and sdkconfig) for each supported flash size. */
export const LAYOUT_MANIFESTS = Object.freeze({
  "4MB": ESP32_MANIFEST,
  "8MB": path.join(repoRoot, "manifests", "esp32", "8mb", "manifest.json"),
});
/** Below this share of the app slot left free, the image has no room to grow (image-budget.json). */
export const MIN_SPARE_FRACTION = 0.15;
export const ESP32_BUNDLE = path.join(repoRoot, "dist", "xs", "tether-esp32.mjs");
export const CA_OUT = path.join(repoRoot, "dist", "esp32", "broker-ca.der");
export const BUILD_MANIFEST = path.join(repoRoot, "dist", "esp32", "build", "manifest.json");
/** Config keys whose values are secrets: never printed, never on a command line. */
export const SECRET_KEYS = Object.freeze(["wifiPassword", "broker"]);

const USAGE = `usage: npm run flash -- --port <serial port> [--device esp32[/<subplatform>]] [--mode development|production]
                       [--flash-size 4MB|8MB] [--ca <broker CA .pem>] [--ota-pub <key.pub>] [--config.<key>=<value> ...]
                       [--log] [--build-only] [--dry-run]
config keys: deviceId, broker, wifiSsid, wifiPassword, otaPublicKey, sntp, firmwareVersion,
             telemetryIntervalMs, batteryPin, batteryFullScaleMv (see docs/esp32.md)
--build-only builds the image without flashing (no --port needed); --ota-pub reads otaPublicKey from a .pub file`;

export class UsageError extends Error {}

/** Parses the command line into options; throws UsageError with a readable message. */
export function parseArgs(argv) {
  const o = { device: "esp32", mode: "development", flashSize: "4MB", port: undefined, ca: undefined, config: {}, log: false, buildOnly: false, dryRun: false, help: false };
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
    else if (flag === "--device") {
      o.device = value();
      if (!/^esp32(\/[A-Za-z0-9_.-]+)?$/.test(o.device)) throw new UsageError("--device is esp32 or esp32/<subplatform>");
    } else if (flag === "--mode") {
      o.mode = value();
      if (o.mode !== "development" && o.mode !== "production") throw new UsageError("--mode is development or production");
    } else if (flag === "--flash-size") {
      o.flashSize = value().toUpperCase();
      if (!(o.flashSize in LAYOUT_MANIFESTS)) throw new UsageError("--flash-size is 4MB or 8MB (the board's flash: `esptool.py flash_id` prints it)");
    } else if (flag === "--ca") o.ca = value();
    else if (flag === "--ota-pub") o.config.otaPublicKey = readOtaPub(value());
    else if (flag === "--log") o.log = true;
    else if (flag === "--build-only") o.buildOnly = true;
    else if (flag === "--dry-run") o.dryRun = true;
    else if (flag === "--help" || flag === "-h") o.help = true;
    else throw new UsageError(`unknown option ${a}`);
  }
  if (!o.help && !o.port && !o.dryRun && !o.buildOnly) throw new UsageError("--port is required (e.g. --port /dev/ttyUSB0; `npx xs-dev scan` lists ports)");
  if (o.config.broker?.split(",").some((u) => u.trim().startsWith("mqtts://")) && !o.ca) {
    throw new UsageError(`an mqtts:// broker needs its CA: pass --ca broker-ca.pem (written to ${path.relative(repoRoot, CA_OUT)})`);
  }
  return o;
}

/** The 64 hex digits of a `tether ota keygen` .pub file. */
export function readOtaPub(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new UsageError(`--ota-pub: cannot read ${file} (${e.code ?? e.message})`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`--ota-pub: ${file} does not hold 64 hex digits (make it with \`tether ota keygen\`)`);
  return text.toLowerCase();
}

/** PEM text to DER bytes (the first certificate). */
export function pemToDer(pem) {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new UsageError("the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

/** A config value fit for printing: passwords hidden, and the password part of broker URLs. */
export function redact(key, value) {
  if (key === "broker") return String(value).replace(/(\/\/[^:/@\s]*):[^@/\s]*@/g, "$1:***@");
  return SECRET_KEYS.includes(key) ? "***" : String(value);
}

/** The build manifest: the ESP32 manifest plus this build's config and CA resource. */
export function buildManifest(o, manifestPath = BUILD_MANIFEST) {
  const dir = path.dirname(manifestPath);
  const m = { include: [path.relative(dir, LAYOUT_MANIFESTS[o.flashSize ?? "4MB"])], config: { ...o.config } };
  if (o.ca) m.data = { "*": [path.relative(dir, CA_OUT.replace(/\.der$/, ""))] };
  return m;
}

/** The mcconfig argv (no shell ever parses it; it holds no config values). */
export function mcconfigArgs(o, manifestPath = BUILD_MANIFEST) {
  const args = [];
  if (o.mode === "development") args.push(o.log ? "-dl" : "-d");
  args.push("-m", "-p", o.device, "-t", o.buildOnly ? "build" : "all", manifestPath);
  return args;
}

/** Where mcconfig writes the app image (its default output directory, $MODDABLE/build). */
export function imagePath(o, moddable) {
  return path.join(moddable, "build", "bin", ...o.device.split("/"), o.mode === "development" ? "debug" : "release", "tether", "xs_esp32.bin");
}

/** The app slot size of a partition table (ota_0). */
export function slotSize(partitionsCsv) {
  for (const line of partitionsCsv.split("\n")) {
    const f = line.split(",").map((x) => x.trim());
    if (f[0] === "ota_0") return Number(f[4]);
  }
  throw new Error("no ota_0 partition in the partition table");
}

/** One line on the image against its slot; `tight` when less than MIN_SPARE_FRACTION stays free. */
export function imageReport(imageBytes, slotBytes) {
  const spare = 1 - imageBytes / slotBytes;
  const tight = spare < MIN_SPARE_FRACTION;
  const line = `flash: app image ${imageBytes} bytes, slot ${slotBytes} bytes: ${(spare * 100).toFixed(1)} % spare` +
    (tight ? ` - below the ${MIN_SPARE_FRACTION * 100} % the image budget keeps for growth (docs/esp32.md, "Image budget"): use --flash-size 8MB on an 8 MB board, or shrink the bundle` : "");
  return { spare, tight, line };
}

/** Runs `cmd` with an argv array (no shell); resolves on exit 0, rejects with the reason otherwise. */
export function runTool(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit", cwd: repoRoot, env, shell: false });
    child.on("error", (e) =>
      reject(new Error(e.code === "ENOENT" ? `${cmd} not found on PATH (add $MODDABLE/build/bin/lin/release; docs/esp32.md, One-time setup)` : `${cmd}: ${e.message}`)),
    );
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(signal ? `${cmd} was killed by ${signal}` : `${cmd} exited with status ${code}: the build or the flash failed (its output is above)`));
    });
  });
}

export async function main(argv, log = (m) => console.log(m)) {
  const o = parseArgs(argv);
  if (o.help) {
    log(USAGE);
    return;
  }
  const rel = (p) => path.relative(repoRoot, p);
  const args = mcconfigArgs(o);
  const steps = [`bundle device/platform/moddable/main.ts -> dist/xs/tether-esp32.mjs`];
  if (o.ca) steps.push(`${o.ca} -> ${rel(CA_OUT)} (DER)`);
  steps.push(`${rel(BUILD_MANIFEST)} (0600): includes ${rel(LAYOUT_MANIFESTS[o.flashSize])}; config ${Object.entries(o.config).map(([k, v]) => `${k}=${redact(k, v)}`).join(" ") || "(none)"}`);
  steps.push(`${o.port ? `UPLOAD_PORT=${o.port} ` : ""}mcconfig ${args.map((a) => (a === BUILD_MANIFEST ? rel(a) : a)).join(" ")}`);
  if (o.dryRun) {
    for (const s of steps) log(s);
    return;
  }
  for (const v of ["MODDABLE", "IDF_PATH"]) {
    if (!process.env[v]) throw new UsageError(`${v} is not set: run \`npx xs-dev setup --device esp32\` once, then open a new shell (docs/esp32.md)`);
  }
  // The same bundle as `npm run build:xs` writes (the manifest's "main").
  const { bundleForXs } = await import("./build.mjs");
  const r = await bundleForXs(path.join(repoRoot, "device", "platform", "moddable", "main.ts"), ESP32_BUNDLE, "esm");
  log(`flash: ${rel(ESP32_BUNDLE)}  ${(r.bytes / 1024).toFixed(1)} KiB`);
  fs.mkdirSync(path.dirname(BUILD_MANIFEST), { recursive: true });
  if (o.ca) fs.writeFileSync(CA_OUT, pemToDer(fs.readFileSync(o.ca, "utf8")));
  // The build manifest holds the Wi-Fi password: owner-only, and removed after the build.
  fs.rmSync(BUILD_MANIFEST, { force: true });
  fs.writeFileSync(BUILD_MANIFEST, JSON.stringify(buildManifest(o), null, "\t") + "\n", { mode: 0o600 });
  try {
    const env = { ...process.env };
    if (o.port) env.UPLOAD_PORT = o.port;
    await runTool("mcconfig", args, env);
  } finally {
    fs.rmSync(BUILD_MANIFEST, { force: true });
  }
  // The real image against the real slot: the figure image-budget.json can only estimate.
  const image = imagePath(o, process.env.MODDABLE);
  if (!fs.existsSync(image)) {
    log(`flash: ${image} not found; the image size was not checked`);
    return;
  }
  const partitions = fs.readFileSync(path.join(path.dirname(LAYOUT_MANIFESTS[o.flashSize]), "partitions.csv"), "utf8");
  log(imageReport(fs.statSync(image).size, slotSize(partitions)).line);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof UsageError ? `flash: ${e.message}\n${USAGE}` : `flash: ${e.message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}

/**
 * scripts/flash.mjs (no board, no SDK): argument handling, the mcconfig argv, and the real script
 * run against a fake `mcconfig` on PATH that records what it was given and exits as told.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BUILD_MANIFEST, ESP32_MANIFEST, LAYOUT_MANIFESTS, UsageError, buildManifest, imageReport, mcconfigArgs, parseArgs, pemToDer, redact, repoRoot } from "../../scripts/flash.mjs";
import { tempDir } from "../helpers/temp";

const SCRIPT = path.join(repoRoot, "scripts", "flash.mjs");
/** Everything a shell would expand or choke on. */
const NASTY_PASSWORD = `p$HOME\`id\`$(id)'"\\ ;|&<>*?!#~%`;
const BROKER_TOKEN = "t0k$en'\"";

/** A fake mcconfig: records argv, cwd, the env it saw and the manifest it was given; exits with $FAKE_MCCONFIG_EXIT. */
function fakeMcconfig(dir: string): { bin: string; record: string } {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const record = path.join(dir, "record.json");
  fs.writeFileSync(
    path.join(bin, "mcconfig"),
    `#!${process.execPath}
const fs = require("node:fs");
const argv = process.argv.slice(2);
const manifest = argv.find((a) => a.endsWith(".json"));
fs.writeFileSync(process.env.FAKE_MCCONFIG_RECORD, JSON.stringify({
  argv, env: process.env, manifest: manifest && fs.readFileSync(manifest, "utf8"),
  mode: manifest && (fs.statSync(manifest).mode & 0o777),
}));
console.log("fake mcconfig: building");
// Where the real mcconfig leaves the app image (-d: debug), $FAKE_MCCONFIG_IMAGE_BYTES long.
if (process.env.FAKE_MCCONFIG_IMAGE_BYTES) {
  const dir = require("node:path").join(process.env.MODDABLE, "build", "bin", "esp32", argv.includes("-d") ? "debug" : "release", "tether");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(dir + "/xs_esp32.bin", Buffer.alloc(Number(process.env.FAKE_MCCONFIG_IMAGE_BYTES)));
}
process.exit(Number(process.env.FAKE_MCCONFIG_EXIT ?? 0));
`,
    { mode: 0o755 },
  );
  return { bin, record };
}

function runFlash(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { cwd: repoRoot, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
}

describe("npm run flash", () => {
  it("turns its options into one mcconfig run of a build manifest that includes the ESP32 manifest", () => {
    const o = parseArgs(["--port", "/dev/ttyUSB0", "--config.deviceId=esp-0001", "--config.broker", "mqtt://10.0.0.5:1883", "--log"]);
    expect(mcconfigArgs(o)).toEqual(["-dl", "-m", "-p", "esp32", "-t", "all", BUILD_MANIFEST]);
    expect(mcconfigArgs(parseArgs(["--build-only", "--mode", "production"]))).toEqual(["-m", "-p", "esp32", "-t", "build", BUILD_MANIFEST]);
    const m = buildManifest(o);
    expect(path.resolve(path.dirname(BUILD_MANIFEST), m.include[0])).toBe(ESP32_MANIFEST);
    expect(m.config).toEqual({ deviceId: "esp-0001", broker: "mqtt://10.0.0.5:1883" });
    expect(m.data).toBeUndefined();
  });

  it("builds the 8 MB layout on request, and reports the real image against its slot", () => {
    const m = buildManifest(parseArgs(["--build-only", "--flash-size", "8MB"]));
    expect(path.resolve(path.dirname(BUILD_MANIFEST), m.include[0])).toBe(LAYOUT_MANIFESTS["8MB"]);
    expect(() => parseArgs(["--build-only", "--flash-size", "16MB"])).toThrow(/--flash-size is 4MB or 8MB/);
    expect(imageReport(1_700_000, 2_031_616)).toMatchObject({ tight: false });
    const tight = imageReport(1_800_000, 2_031_616);
    expect(tight.tight).toBe(true);
    expect(tight.line).toMatch(/11\.4 % spare - below the 15 %/);

    const dir = tempDir("tether-flash-image-");
    const { bin, record } = fakeMcconfig(dir);
    const env = { PATH: `${bin}:${process.env.PATH}`, MODDABLE: dir, IDF_PATH: dir, FAKE_MCCONFIG_RECORD: record, FAKE_MCCONFIG_IMAGE_BYTES: "1800000" };
    const small = runFlash(["--build-only", "--flash-size", "8MB"], env);
    expect(small.status, small.stderr).toBe(0);
    expect(JSON.parse(JSON.parse(fs.readFileSync(record, "utf8")).manifest).include[0]).toBe(path.relative(path.dirname(BUILD_MANIFEST), LAYOUT_MANIFESTS["8MB"]));
    expect(small.stdout).toMatch(/app image 1800000 bytes, slot 4128768 bytes: 56\.4 % spare\n/);
    const big = runFlash(["--build-only"], env);
    expect(big.status, big.stderr).toBe(0);
    expect(big.stdout).toMatch(/app image 1800000 bytes, slot 2031616 bytes: 11\.4 % spare - below the 15 %/);
  }, 60_000);

  it("refuses what would fail later on the board", () => {
    expect(() => parseArgs([])).toThrow(UsageError);
    expect(() => parseArgs(["--port"])).toThrow(/--port needs a value/);
    expect(() => parseArgs(["--port", "/dev/x", "--mode", "fast"])).toThrow(/--mode/);
    expect(() => parseArgs(["--port", "/dev/x", "--bogus"])).toThrow(/unknown option/);
    expect(() => parseArgs(["--port", "/dev/x", "--config.bad-key=1"])).toThrow(/bad config key/);
    expect(() => parseArgs(["--port", "/dev/x", "--device", "esp32 ; rm"])).toThrow(/--device/);
    expect(() => parseArgs(["--port", "/dev/x", "--config.broker=mqtts://b:8883"])).toThrow(/needs its CA/);
  });

  it("reads the OTA public key from a keygen .pub file", () => {
    const dir = tempDir("tether-flash-pub-");
    fs.writeFileSync(path.join(dir, "ota.pub"), "AB".repeat(32) + "\n");
    expect(parseArgs(["--dry-run", "--ota-pub", path.join(dir, "ota.pub")]).config.otaPublicKey).toBe("ab".repeat(32));
    fs.writeFileSync(path.join(dir, "bad.pub"), "nothex\n");
    expect(() => parseArgs(["--dry-run", "--ota-pub", path.join(dir, "bad.pub")])).toThrow(/64 hex digits/);
  });

  it("converts the broker CA from PEM to DER", () => {
    const der = pemToDer("-----BEGIN CERTIFICATE-----\nAQIDBA==\n-----END CERTIFICATE-----\n");
    expect([...der]).toEqual([1, 2, 3, 4]);
    expect(() => pemToDer("not a certificate")).toThrow(UsageError);
  });

  it("hides passwords, including the one in a broker URL", () => {
    expect(redact("wifiPassword", NASTY_PASSWORD)).toBe("***");
    expect(redact("broker", `mqtts://esp-0001:${BROKER_TOKEN}@b.example:8883,mqtt://10.0.0.5:1883`)).toBe("mqtts://esp-0001:***@b.example:8883,mqtt://10.0.0.5:1883");
    expect(redact("deviceId", "esp-0001")).toBe("esp-0001");
  });

  it("passes a password with shell metacharacters intact, in a 0600 file, never on a command line or in its output", () => {
    const dir = tempDir("tether-flash-fake-");
    const { bin, record } = fakeMcconfig(dir);
    const broker = `mqtt://esp-0001:${BROKER_TOKEN}@127.0.0.1:1883`;
    const args = ["--port", "/dev/ttyFAKE0", "--config.deviceId=esp-0001", `--config.broker=${broker}`, "--config.wifiSsid=lab", "--config.wifiPassword", NASTY_PASSWORD];
    const env = { PATH: `${bin}:${process.env.PATH}`, MODDABLE: dir, IDF_PATH: dir, FAKE_MCCONFIG_RECORD: record, FAKE_MCCONFIG_EXIT: "0" };

    const dry = runFlash([...args, "--dry-run"], env);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("wifiPassword=***");
    for (const secret of [NASTY_PASSWORD, BROKER_TOKEN]) expect(dry.stdout + dry.stderr).not.toContain(secret);
    expect(fs.existsSync(record)).toBe(false);

    const r = runFlash(args, env);
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(fs.readFileSync(record, "utf8")) as { argv: string[]; env: Record<string, string>; manifest: string; mode: number };
    expect(seen.argv).toEqual(["-d", "-m", "-p", "esp32", "-t", "all", BUILD_MANIFEST]);
    expect(seen.env.UPLOAD_PORT).toBe("/dev/ttyFAKE0");
    const config = JSON.parse(seen.manifest).config;
    expect(config.wifiPassword).toBe(NASTY_PASSWORD);
    expect(config.broker).toBe(broker);
    expect(seen.mode).toBe(0o600);
    for (const secret of [NASTY_PASSWORD, BROKER_TOKEN]) {
      expect(seen.argv.join(" ")).not.toContain(secret);
      expect(Object.values(seen.env).join("\n")).not.toContain(secret);
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
    // The file with the password does not outlive the build.
    expect(fs.existsSync(BUILD_MANIFEST)).toBe(false);
  }, 60_000);

  it("exits non-zero with the reason when mcconfig fails", () => {
    const dir = tempDir("tether-flash-fail-");
    const { bin, record } = fakeMcconfig(dir);
    const env = { PATH: `${bin}:${process.env.PATH}`, MODDABLE: dir, IDF_PATH: dir, FAKE_MCCONFIG_RECORD: record, FAKE_MCCONFIG_EXIT: "2" };
    const r = runFlash(["--port", "/dev/ttyFAKE0", "--config.deviceId=esp-0001"], env);
    expect(fs.existsSync(record)).toBe(true);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/mcconfig exited with status 2: the build or the flash failed/);
    expect(fs.existsSync(BUILD_MANIFEST)).toBe(false);
  }, 60_000);

  it("says what is missing when mcconfig is not on PATH or the SDK is not set up", () => {
    const dir = tempDir("tether-flash-nosdk-");
    const noSdk = runFlash(["--port", "/dev/ttyFAKE0"], { MODDABLE: "", IDF_PATH: "" });
    expect(noSdk.status).toBe(2);
    expect(noSdk.stderr).toMatch(/MODDABLE is not set/);
    const noTool = runFlash(["--build-only"], { PATH: path.dirname(process.execPath), MODDABLE: dir, IDF_PATH: dir });
    expect(noTool.status).toBe(1);
    expect(noTool.stderr).toMatch(/mcconfig not found on PATH/);
  }, 60_000);
});

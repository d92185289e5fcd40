/**
 * `tether ota sign|verify|push` refuse bundles a device would refuse (a message over its packet
 * limit, a block size that is not whole erase blocks, an image whose build declares another
 * version than the manifest), and keygen never writes through a symbolic link.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runOtaCommand } from "../../tools/ota/cli";
import { createBundle, keyPairFromSeed } from "../../tools/ota/bundle";
import { writeBundle } from "../../tools/ota/bundle-files";
import { allowedBlockSizes, MAX_MESSAGE_PAYLOAD } from "../../tools/ota/limits";
import { embeddedVersion, FIRMWARE_VERSION_BANNER } from "../../tools/ota/embedded-version";
import { buildAgentPayload } from "../../tools/ota/app-image";
import { DEFAULT_MAX_PACKET } from "../../device/core/mqtt/parser";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { toHex } from "../../device/core/ota/bytes";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-ota-limits-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const KEY = keyPairFromSeed(new Uint8Array(32).fill(3));
const keyFile = path.join(tmp, "k");
fs.writeFileSync(`${keyFile}.key`, JSON.stringify({ type: "tether-ota-ed25519-secret", secretKey: toHex(KEY.secretKey) }));
fs.writeFileSync(`${keyFile}.pub`, toHex(KEY.publicKey) + "\n");

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runOtaCommand(argv, (l) => lines.push(l), (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

function image(bytes: number, first = ""): string {
  const file = path.join(tmp, `app-${bytes}-${first.length}.bin`);
  const b = new Uint8Array(bytes).map((_, i) => (i * 31) & 0xff);
  b.set(new TextEncoder().encode(first));
  fs.writeFileSync(file, b);
  return file;
}

const sign = (file: string, out: string, ...extra: string[]) =>
  run("sign", "--key", `${keyFile}.key`, "--image", file, "--version", "0.4.4", "--hardware", "tether-devkit", "--counter", "1", "--out", path.join(tmp, out), ...extra);

describe("ota sign and verify refuse what a device refuses", () => {
  const app600k = image(600_000);

  it("the allowed block sizes follow the device's packet limit and the erase block", () => {
    expect(DEFAULT_MAX_PACKET).toBe(16 * 1024);
    expect(allowedBlockSizes()).toEqual([4096, 8192]);
  });

  it.each([
    ["65536", /exceed the device's 16384-byte MQTT packet limit/],
    ["16384", /exceed the device's 16384-byte MQTT packet limit/],
    ["1024", /not a multiple of the 4096-byte flash erase block/],
    ["256", /not a multiple of the 4096-byte flash erase block/],
  ])("sign refuses --block-size %s and writes nothing", async (size, why) => {
    const r = await sign(app600k, `bs-${size}`, "--block-size", size);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(why);
    expect(r.out).toMatch(/allowed: 4096, 8192/);
    expect(fs.existsSync(path.join(tmp, `bs-${size}`))).toBe(false);
  });

  it("sign takes 4096 and 8192; a manifest over the packet limit is refused", async () => {
    expect((await sign(app600k, "bs-4096")).code).toBe(0);
    expect((await sign(app600k, "bs-8192", "--block-size", "8192")).code).toBe(0);
    const big = await sign(image(2_200_000), "too-many-blocks");
    expect(big.code).toBe(1);
    expect(big.out).toMatch(new RegExp(`signed manifest is \\d+ bytes; a device accepts at most ${MAX_MESSAGE_PAYLOAD}`));
    expect(fs.existsSync(path.join(tmp, "too-many-blocks"))).toBe(false);
    // The same image fits at 8 KiB blocks.
    expect((await sign(image(2_200_000), "big-8k", "--block-size", "8192")).code).toBe(0);
  });

  it.each([
    [1024, /not a multiple of the 4096-byte flash erase block/],
    [65536, /exceed the device's 16384-byte MQTT packet limit/],
  ])("verify flags a bundle signed elsewhere with %i-byte blocks (600 KB image)", async (blockSize, why) => {
    const payload = new Uint8Array(fs.readFileSync(app600k));
    const b = createBundle(payload, { version: 4004, hardwareId: "tether-devkit", securityCounter: 1, blockSize }, KEY.secretKey, nodeSha256);
    const dir = path.join(tmp, `foreign-${blockSize}`);
    writeBundle(dir, b);
    const r = await run("verify", "--bundle", dir, "--pub", `${keyFile}.pub`);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/^REJECTED 6 /);
    expect(r.out).toMatch(why);
    if (blockSize === 1024) expect(b.envelope.length).toBeGreaterThan(DEFAULT_MAX_PACKET); // the 18.9 KB manifest of the issue
    const push = await run("push", "--broker", "mqtt://127.0.0.1:1", "--bundle", dir, "--device", "d1");
    expect(push.code).toBe(1);
    expect(push.out).toMatch(/not pushing: /);
  });
});

describe("the image's own version must be the manifest's", () => {
  it("a real agent build declares its version on its first line", async () => {
    const payload = await buildAgentPayload("0.4.2");
    expect(embeddedVersion(payload)).toBe("0.4.2");
  }, 60_000);

  it("sign refuses a 0.4.2 build signed as 0.4.4; verify flags one signed elsewhere", async () => {
    const build = image(20_000, `${FIRMWARE_VERSION_BANNER}0.4.2\nexport class Agent {}\n`);
    const r = await sign(build, "typo");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/the image is a build of firmware 0\.4\.2 \(4002\) but the manifest says 0\.4\.4 \(4004\)/);
    expect(fs.existsSync(path.join(tmp, "typo"))).toBe(false);
    expect((await run("sign", "--key", `${keyFile}.key`, "--image", build, "--version", "0.4.2", "--hardware", "tether-devkit", "--counter", "1", "--out", path.join(tmp, "right"))).code).toBe(0);
    // --format raw signs the bytes as they are (an ESP-IDF .bin has no such line to read).
    expect((await sign(build, "raw", "--format", "raw")).code).toBe(0);

    const b = createBundle(new Uint8Array(fs.readFileSync(build)), { version: 4004, hardwareId: "tether-devkit", securityCounter: 1 }, KEY.secretKey, nodeSha256);
    writeBundle(path.join(tmp, "typo-elsewhere"), b);
    const v = await run("verify", "--bundle", path.join(tmp, "typo-elsewhere"), "--pub", `${keyFile}.pub`);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/^REJECTED 6 .*build of firmware 0\.4\.2/);
    expect((await run("verify", "--bundle", path.join(tmp, "right"), "--pub", `${keyFile}.pub`)).code).toBe(0);
  });
});

describe("ota push", () => {
  it("bounds --wait (a Node timer past 2^31-1 ms would end the wait at once)", async () => {
    const r = await run("push", "--broker", "mqtt://127.0.0.1:1", "--bundle", path.join(tmp, "bs-4096"), "--device", "d1", "--wait", "3000000");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/--wait 3000000: at most 604800 seconds/);
  });
});

describe("ota keygen", () => {
  it("refuses a dangling symbolic link where a key goes, and writes nothing through it", async () => {
    const target = path.join(tmp, "elsewhere", "stolen.key");
    fs.mkdirSync(path.dirname(target));
    const base = path.join(tmp, "keys-link", "fleet");
    fs.mkdirSync(path.dirname(base));
    fs.symlinkSync(target, `${base}.key`);
    const r = await run("keygen", "--out", base);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/is a symbolic link; not writing a key through it/);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(`${base}.pub`)).toBe(false);
  });
});

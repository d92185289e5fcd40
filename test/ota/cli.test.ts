/** `tether ota keygen|sign|verify` end to end on real files (outside the repository). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runOtaCommand } from "../../tools/ota/cli";
import { encodeEnvelope, parseEnvelope } from "../../device/core/ota/manifest";
import { versionNumber, versionString } from "../../device/core/ota/version";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-ota-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runOtaCommand(argv, (l) => lines.push(l), (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

describe("tether ota CLI", () => {
  const key = path.join(tmp, "keys", "fleet");
  const app = path.join(tmp, "app.bin");
  const bundleDir = path.join(tmp, "bundle");

  it("keygen writes a 0600 secret key and a public key, and refuses a path inside a git work tree", async () => {
    expect((await run("keygen", "--out", key)).code).toBe(0);
    expect(fs.statSync(`${key}.key`).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(`${key}.pub`, "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
    // A git work tree of its own (the repository checkout may not have .git in CI).
    const repo = path.join(tmp, "some-repo");
    fs.mkdirSync(path.join(repo, ".git"), { recursive: true });
    const inRepo = await run("keygen", "--out", path.join(repo, "keys", "leaked"));
    expect(inRepo.code).toBe(1);
    expect(inRepo.out).toMatch(/refusing to write a private key inside the git work tree/);
    expect(fs.existsSync(path.join(repo, "keys", "leaked.key"))).toBe(false);
    expect((await run("keygen", "--out", key)).out).toMatch(/not overwriting/);
  });

  it("sign writes a bundle that verify accepts", async () => {
    fs.writeFileSync(app, new Uint8Array(10_000).map((_, i) => i * 7));
    const signed = await run("sign", "--key", `${key}.key`, "--image", app, "--version", "1.2.3", "--hardware", "tether-devkit", "--counter", "4", "--expiry", "2099-01-01T00:00:00Z", "--out", bundleDir);
    expect(signed.code, signed.out).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(bundleDir, "manifest.json"), "utf8"))).toMatchObject({ version: 1_002_003, securityCounter: 4, blocks: 3 });
    const ok = await run("verify", "--bundle", bundleDir, "--pub", `${key}.pub`, "--hardware", "tether-devkit");
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toMatch(/^OK: version 1002003/);
  });

  it("verify says why it rejects: wrong hardware, downgrade, tampered image, tampered manifest, other key", async () => {
    const expectReject = async (args: string[], code: number, why: RegExp) => {
      const r = await run("verify", "--bundle", bundleDir, ...args);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(new RegExp(`^REJECTED ${code} `));
      expect(r.out).toMatch(why);
    };
    await expectReject(["--pub", `${key}.pub`, "--hardware", "other"], 103, /hardware/);
    await expectReject(["--pub", `${key}.pub`, "--running-version", "2.0.0"], 102, /older than running/);
    await expectReject(["--pub", `${key}.pub`, "--counter", "5"], 102, /security counter/);
    await expectReject(["--pub", `${key}.pub`, "--now", "4102444800"], 104, /expired/);
    await expectReject(["--pub", `${key}.pub`, "--slot-size", "4096"], 2, /does not fit/);

    const other = path.join(tmp, "keys", "other");
    await run("keygen", "--out", other);
    await expectReject(["--pub", `${other}.pub`], 101, /unknown key/);

    const imgPath = path.join(bundleDir, "image.bin");
    const img = fs.readFileSync(imgPath);
    img[5000] ^= 0xff;
    fs.writeFileSync(imgPath, img);
    await expectReject(["--pub", `${key}.pub`], 5, /block 1 does not match/);
    img[5000] ^= 0xff;
    fs.writeFileSync(imgPath, img);

    const mPath = path.join(bundleDir, "manifest.cbor");
    const env = parseEnvelope(new Uint8Array(fs.readFileSync(mPath)));
    const edited = env.manifestBytes.slice();
    edited[edited.length - 1] ^= 1;
    fs.writeFileSync(mPath, encodeEnvelope({ ...env, manifestBytes: edited }));
    await expectReject(["--pub", `${key}.pub`], 100, /signature/);
    fs.writeFileSync(mPath, new Uint8Array([0xde, 0xad]));
    await expectReject(["--pub", `${key}.pub`], 6, /CBOR/);
  });

  it("--format raw signs an ESP-IDF app as is; verify --format esp-idf checks it", async () => {
    const esp = new Uint8Array(9000);
    esp[0] = 0xe9;
    new DataView(esp.buffer).setUint32(32, 0xabcd5432, true);
    const espPath = path.join(tmp, "app-esp.bin");
    fs.writeFileSync(espPath, esp);
    const dir = path.join(tmp, "bundle-esp");
    expect((await run("sign", "--key", `${key}.key`, "--image", espPath, "--version", "3", "--hardware", "esp32-devkit", "--counter", "1", "--format", "raw", "--out", dir)).code).toBe(0);
    expect(new Uint8Array(fs.readFileSync(path.join(dir, "image.bin")))).toEqual(esp);
    expect((await run("verify", "--bundle", dir, "--pub", `${key}.pub`, "--hardware", "esp32-devkit", "--format", "esp-idf")).code).toBe(0);
    const r = await run("verify", "--bundle", dir, "--pub", `${key}.pub`, "--hardware", "esp32-devkit", "--format", "tether");
    expect(r.out).toMatch(/^REJECTED 6 /);
  });

  it("bad usage is an error with a message, not a crash", async () => {
    expect((await run("sign", "--key")).code).toBe(1);
    expect((await run("frobnicate")).code).toBe(2);
    expect((await run("sign", "--key", `${key}.key`, "--image", app, "--version", "x", "--hardware", "h", "--counter", "1", "--out", bundleDir)).out).toMatch(/version "x"/);
  });

  it("versions map MAJOR.MINOR.PATCH to integers that sort", () => {
    expect(versionNumber("1.2.3")).toBe(1_002_003);
    expect(versionNumber("0.1.0-dev")).toBe(1_000);
    expect(versionString(2_010_003)).toBe("2.10.3");
    expect(versionNumber("1.10.0")).toBeGreaterThan(versionNumber("1.9.9"));
    expect(() => versionNumber("1.2")).toThrow(/version/);
  });
});

/**
 * Broker security against a real Mosquitto 2.0, configured only with what
 * `tether broker credentials` writes: per-device accounts (PBKDF2-SHA512 password file), an ACL
 * where each device reads and writes only its own topics, the client id bound to the user name.
 * dev-a can neither publish nor read under dev-b; the backend account does its job; a real
 * `tether device` runs over mqtts:// with a password that appears in no output and in no argv;
 * `tether ota push` runs with the backend's credentials and ends at once on a refusal.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { buildCli, removeCli, runCli, type CliProcess } from "../helpers/cli";
import { mosquittoPasswordLine, mosquittoPasswordMatches } from "../../tools/broker/mosquitto-passwd";
import { createBundle, keyPairFromSeed } from "../../tools/ota/bundle";
import { writeBundle } from "../../tools/ota/bundle-files";
import { nodeSha256 } from "../../device/platform/node/sha256";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-broker-acl-"));
const creds = path.join(tmp, "broker");
let cli = "";
let mq: Mosquitto;
let tlsPort = 0;
let ca = "";
const clients: MqttClient[] = [];
const procs: CliProcess[] = [];
const secret = (user: string) => fs.readFileSync(path.join(creds, "secrets", `${user}.password`), "utf8").trim();

function tether(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function connect(user: string | undefined, password?: string, clientId = user ?? "anon"): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, { clientId, username: user, password, clean: true, reconnectPeriod: 0, ca: fs.readFileSync(ca) });
  clients.push(c);
  return c;
}

/** Messages a client receives on `filter` from now on (including retained ones). */
function collect(c: MqttClient): { topic: string; payload: string }[] {
  const got: { topic: string; payload: string }[] = [];
  c.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cli = await buildCli("broker-acl");
  // A CA and a server certificate for 127.0.0.1, as docs/security.md makes them.
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: tmp, stdio: "pipe" });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Tether Test CA");
  run("req", ...key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  fs.writeFileSync(path.join(tmp, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
  ca = path.join(tmp, "ca.pem");
  tlsPort = await freePort();
  const tls = ["--tls-ca", ca, "--tls-cert", path.join(tmp, "server.pem"), "--tls-key", path.join(tmp, "server.key")];
  const made = tether(["broker", "credentials", "--out", creds, "--device", "dev-a", "--device", "dev-b", "--listen", `127.0.0.1:${tlsPort}`, ...tls]);
  expect(made.code, made.err).toBe(0);
  // The broker runs the generated configuration as it is; every client below uses its TLS
  // listener (the helper's own first listener only tells it that the broker is up).
  // (Less its `user` line when the helper, run as root, already wrote `user root`: Mosquitto takes one.)
  const conf = fs.readFileSync(path.join(creds, "mosquitto.conf"), "utf8").split("\n");
  mq = await startMosquitto({ noAnonymous: true, config: process.getuid?.() === 0 ? conf.filter((l) => !l.startsWith("user ")) : conf });
}, 90_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  await mq?.stop();
  if (cli) removeCli(cli);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("tether broker credentials", () => {
  it("writes private secrets, a Mosquitto-format password file and an ACL, and never prints a password", () => {
    for (const u of ["fleet", "dev-a", "dev-b"]) {
      expect(secret(u)).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(fs.statSync(path.join(creds, "secrets", `${u}.password`)).mode & 0o777).toBe(0o600);
    }
    expect(fs.statSync(path.join(creds, "passwd")).mode & 0o777).toBe(0o640);
    const lines = fs.readFileSync(path.join(creds, "passwd"), "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(":")[0])).toEqual(["fleet", "dev-a", "dev-b"]);
    expect(lines.every((l) => /^[^:]+:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/.test(l))).toBe(true);
    expect(mosquittoPasswordMatches(lines[1], secret("dev-a"))).toBe(true);
    expect(mosquittoPasswordMatches(lines[1], secret("dev-b"))).toBe(false);

    // Running again keeps passwords; --dry-run and --json show no secret.
    const before = secret("dev-a");
    const conf = fs.readFileSync(path.join(creds, "mosquitto.conf"), "utf8");
    expect(conf).toMatch(new RegExp(`^listener ${tlsPort} 127\\.0\\.0\\.1\\n(#.*\\n)*use_username_as_clientid true\\ncafile `, "m"));
    const again = tether(["broker", "credentials", "--out", creds, "--device", "dev-a", "--device", "dev-b", "--device", "dev-c", "--json"]);
    expect(again.code, again.err).toBe(0);
    expect(secret("dev-a")).toBe(before);
    expect(fs.readFileSync(path.join(creds, "mosquitto.conf"), "utf8")).toBe(conf); // the listener given before is kept
    const dry = tether(["broker", "credentials", "--out", creds, "--device", "dev-a", "--rotate", "dev-a", "--dry-run"]);
    expect(dry.out).toMatch(/would write/);
    expect(secret("dev-a")).toBe(before);
    for (const u of ["fleet", "dev-a", "dev-b", "dev-c"]) for (const out of [again.out, again.err, dry.out, dry.err]) expect(out).not.toContain(secret(u));
    expect(JSON.parse(again.out).accounts.map((a: { user: string; password: string }) => `${a.user}:${a.password}`)).toEqual(["fleet:kept", "dev-a:kept", "dev-b:kept", "dev-c:new"]);
    expect(tether(["broker", "credentials", "--out", creds, "--device", "a/b"]).err).toMatch(/not a valid account name/);
  });

  it("writes the hash format mosquitto_passwd writes (and reads its lines)", () => {
    const file = path.join(tmp, "real-passwd");
    fs.writeFileSync(file, "");
    execFileSync("mosquitto_passwd", ["-b", file, "someone", "pa55word"]);
    const real = fs.readFileSync(file, "utf8").trim();
    expect(mosquittoPasswordMatches(real, "pa55word")).toBe(true);
    expect(mosquittoPasswordMatches(real, "pa55worD")).toBe(false);
    const ours = mosquittoPasswordLine("someone", "pa55word");
    expect(ours.split("$").slice(0, 3)).toEqual(real.split("$").slice(0, 3)); // someone:, 7, 101
    expect(mosquittoPasswordMatches(ours, "pa55word")).toBe(true);
  });
});

describe("Mosquitto with the generated files", () => {
  it("refuses anonymous clients and wrong passwords; accepts each account's own", async () => {
    await expect(connect(undefined)).rejects.toThrow(/Not authorized|Bad username or password/i);
    await expect(connect("dev-a", secret("dev-b"))).rejects.toThrow(/Not authorized|Bad username or password/i);
    const ok = await connect("dev-a", secret("dev-a"));
    expect(ok.connected).toBe(true);
    await ok.endAsync();
  });

  it("dev-a can neither read nor publish under dev-b; the backend reads and writes what it must", async () => {
    const fleet = await connect("fleet", secret("fleet"), "fleet");
    const devB = await connect("dev-b", secret("dev-b"));
    const devA = await connect("dev-a", secret("dev-a"));
    const atFleet = collect(fleet);
    const atB = collect(devB);
    const atA = collect(devA);

    // The backend subscribes to every device's reports (granted QoS 1, not 0x80).
    const grantedFleet = await fleet.subscribeAsync(["tether/+/telemetry", "tether/+/status", "tether/+/ota/status", "tether/+/config/result"], { qos: 1 });
    expect(grantedFleet.map((g) => g.qos)).toEqual([1, 1, 1, 1]);
    // Each device subscribes to its own inputs.
    for (const [c, id] of [[devA, "dev-a"], [devB, "dev-b"]] as const) {
      // (The old per-device block topic too: granted by Mosquitto, but nothing may be published there.)
      const g = await c.subscribeAsync([`tether/${id}/config`, `tether/${id}/ota/manifest`, `tether/${id}/ota/block/+`, "tether/ota/image/+/block/+"], { qos: 1 });
      expect(g.map((x) => x.qos)).toEqual([1, 1, 1, 1]);
    }
    // dev-a asking for dev-b's inputs, or for everything: Mosquitto 2.0.11 grants the SUBACK and
    // then checks the ACL on every message, so what matters is what arrives (below).
    await devA.subscribeAsync(["tether/dev-b/config", "tether/dev-b/ota/manifest", "tether/dev-b/#", "tether/+/telemetry", "#"], { qos: 1 });

    // dev-a publishes as dev-b: nothing reaches the backend or dev-b. Its own telemetry does.
    await devA.publishAsync("tether/dev-b/telemetry", "forged by dev-a", { qos: 1 });
    await devA.publishAsync("tether/dev-b/config", "forged config", { qos: 1, retain: true });
    await devA.publishAsync("tether/dev-b/ota/manifest", "forged offer", { qos: 1, retain: true });
    await devA.publishAsync("tether/dev-a/config", "a device cannot configure itself either", { qos: 1 });
    await devA.publishAsync("tether/ota/image/abc/block/0", "forged shared block", { qos: 1, retain: true });
    await devA.publishAsync("tether/dev-a/telemetry", "dev-a's own", { qos: 1 });
    // The backend configures and offers to dev-b, which receives it; dev-a sees none of it.
    await fleet.publishAsync("tether/dev-b/config", '{"reportIntervalSec":60}', { qos: 1 });
    await fleet.publishAsync("tether/dev-b/ota/manifest", "offer for b", { qos: 1 });
    await fleet.publishAsync("tether/dev-b/ota/block/0", "old per-device block: nobody may write it", { qos: 1, retain: true });
    await fleet.publishAsync("tether/ota/image/abc/block/0", "shared block", { qos: 1 });
    await devB.publishAsync("tether/dev-b/config/result", "ok", { qos: 1 });
    await settle();

    expect(atFleet).toEqual([
      { topic: "tether/dev-a/telemetry", payload: "dev-a's own" },
      { topic: "tether/dev-b/config/result", payload: "ok" },
    ]);
    expect(atB).toEqual([
      { topic: "tether/dev-b/config", payload: '{"reportIntervalSec":60}' },
      { topic: "tether/dev-b/ota/manifest", payload: "offer for b" },
      { topic: "tether/ota/image/abc/block/0", payload: "shared block" },
    ]);
    expect(atA).toEqual([{ topic: "tether/ota/image/abc/block/0", payload: "shared block" }]);
  });

  it("the client id is the user name: dev-a cannot take over dev-b's session", async () => {
    const devB = await connect("dev-b", secret("dev-b"));
    let bClosed = false;
    devB.on("close", () => (bClosed = true));
    const impostor = await connect("dev-a", secret("dev-a"), "dev-b");
    await settle();
    expect(bClosed).toBe(false);
    expect(devB.connected).toBe(true);
    expect(impostor.connected).toBe(true); // connected, but as dev-a (its own client id)
  });
});

describe("the real agent and tools with credentials", () => {
  it("tether device connects over mqtts:// with --password-file or TETHER_PASSWORD; the password is in no output and no argv", async () => {
    const fleet = await connect("fleet", secret("fleet"), "fleet-2");
    const atFleet = collect(fleet);
    await fleet.subscribeAsync(["tether/dev-a/telemetry", "tether/dev-a/config/result"], { qos: 1 });
    const base = ["device", "--id", "dev-a", "--broker", `mqtts://127.0.0.1:${tlsPort}`, "--ca", ca, "--user", "dev-a", "--interval", "500", "--power-on-max", "0", "--verbose"];
    for (const [how, args, env] of [
      ["--password-file, text", [...base, "--password-file", path.join(creds, "secrets", "dev-a.password")], {}],
      ["TETHER_PASSWORD, --json", [...base, "--json"], { TETHER_PASSWORD: secret("dev-a") }],
    ] as const) {
      atFleet.length = 0;
      const dev = runCli(cli, [...args], { env: { ...process.env, ...env } });
      procs.push(dev);
      await dev.waitFor(/telemetry/, 30_000);
      const cmdline = fs.readFileSync(`/proc/${dev.child.pid}/cmdline`, "utf8");
      // The backend reconfigures the device; its answer comes back through the ACL.
      await fleet.publishAsync("tether/dev-a/config", '{"id":7,"reportIntervalSec":5}', { qos: 1 });
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(atFleet.some((m) => m.topic.endsWith("/telemetry")) && atFleet.some((m) => m.topic.endsWith("/config/result")))) await settle(100);
      expect(await dev.stop()).toBe(0);
      const shown = `${how}\n${dev.lines.join("\n")}\n${dev.stderr()}`;
      expect(atFleet.some((m) => m.topic === "tether/dev-a/telemetry"), shown).toBe(true);
      expect(atFleet.some((m) => m.topic === "tether/dev-a/config/result"), how).toBe(true);
      const everything = dev.lines.join("\n") + dev.stderr() + cmdline;
      expect(everything, how).not.toContain(secret("dev-a"));
      expect(dev.lines.join("\n"), how).toMatch(/dev-a/);
    }
  }, 90_000);

  it("tether ota push runs as the backend (mqtts, --password-file) and stops waiting at a refusal, then clears the offer", async () => {
    // dev-b trusts no OTA key: it refuses every offer with 101 (unknown key).
    const dev = runCli(cli, ["device", "--id", "dev-b", "--broker", `mqtts://127.0.0.1:${tlsPort}`, "--ca", ca, "--user", "dev-b", "--power-on-max", "0"], { env: { ...process.env, TETHER_PASSWORD: secret("dev-b") } });
    procs.push(dev);
    await dev.waitFor(/link +online/, 30_000);
    const key = keyPairFromSeed(new Uint8Array(32).fill(5));
    const bundleDir = path.join(tmp, "bundle");
    writeBundle(bundleDir, createBundle(new Uint8Array(9000).fill(1), { version: 9_000_000, hardwareId: "tether-devkit", securityCounter: 1 }, key.secretKey, nodeSha256));
    const started = Date.now();
    const push = tether(["ota", "push", "--broker", `mqtts://127.0.0.1:${tlsPort}`, "--ca", ca, "--user", "fleet", "--password-file", path.join(creds, "secrets", "fleet.password"), "--bundle", bundleDir, "--device", "dev-b", "--wait", "40", "--clear"]);
    const took = Date.now() - started;
    expect(push.out + push.err).toMatch(/device result: 101/);
    expect(push.code).toBe(1);
    expect(took).toBeLessThan(30_000);
    expect(push.out + push.err).not.toContain(secret("fleet"));
    expect(await dev.stop()).toBe(0);
    // Cleared: no retained offer or block is left. Looked at as dev-b, which may read both (the
    // backend account may only write them, so it would see nothing either way).
    const asB = await connect("dev-b", secret("dev-b"));
    const seen = collect(asB);
    const granted = await asB.subscribeAsync(["tether/dev-b/ota/manifest", "tether/ota/image/+/block/+"], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1]);
    await settle();
    expect(seen).toEqual([]);
    await asB.endAsync();
  }, 90_000);
});

/**
 * `tether device` / `tether demo` refuse bad flags before touching anything (ids, intervals,
 * credentials, CA files), and guard their state directory: one process per directory, a
 * damaged kv.json is a clear error, a read-only directory fails at start.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, removeCli, runCli, type CliProcess } from "../helpers/cli";
import { freePort } from "../helpers/mosquitto";

let cli = "";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-device-flags-"));
const running: CliProcess[] = [];

beforeAll(async () => {
  cli = await buildCli("device-flags");
}, 60_000);
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  removeCli(cli);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function tether(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20_000, env: { ...process.env, TETHER_PASSWORD: undefined, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A broker URL nobody listens on: the device boots and keeps retrying, which is all these tests need. */
let deadBroker = "";
beforeAll(async () => {
  deadBroker = `mqtt://127.0.0.1:${await freePort()}`;
});

describe("tether device: flags are checked before anything starts", () => {
  it.each([
    ["slash", "a/b"],
    ["plus", "dev+1"],
    ["hash", "dev#1"],
    ["space", "dev 1"],
    ["10,000 characters", "d".repeat(10_000)],
    ["49 characters", "d".repeat(49)],
    ["empty", ""],
  ])("refuses an id with a %s, and leaves the state directory alone", (_, id) => {
    const state = path.join(tmp, `bad-id-${id.length}-${id.charCodeAt(1) || 0}`);
    const r = tether(["device", "--id", id, "--broker", deadBroker, "--state", state]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/is not a device id: 1 to 48 characters/);
    expect(r.err.length).toBeLessThan(600); // a 10,000-character id is not echoed back whole
    expect(fs.existsSync(state)).toBe(false);
  });

  it("refuses intervals a timer cannot hold, on device and demo", () => {
    for (const args of [
      ["device", "--id", "d1", "--broker", deadBroker, "--interval", "2147483648"],
      ["device", "--id", "d1", "--broker", deadBroker, "--sample", "3000000000"],
      ["device", "--id", "d1", "--broker", deadBroker, "--interval", "86400001"],
      ["device", "--id", "d1", "--broker", deadBroker, "--power-on-max", "2147483648"],
      ["demo", "--interval", "2147483648"],
      ["demo", "--port", "70000"],
    ]) {
      const r = tether(args);
      expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(/must be an integer from \d+ to \d+/);
    }
  });

  it("never takes a password on the command line, and says where to put it", () => {
    const flag = tether(["device", "--id", "d1", "--broker", deadBroker, "--user", "d1", "--password", "hunter2"]);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--password is not accepted.*TETHER_PASSWORD.*--password-file/);
    expect(flag.err).not.toContain("hunter2");
    const inUrl = tether(["device", "--id", "d1", "--broker", deadBroker.replace("//", "//d1:hunter2@")]);
    expect(inUrl.code).toBe(2);
    expect(inUrl.err).toMatch(/carries a password/);
    expect(inUrl.err).not.toContain("hunter2");
    const badUrl = tether(["device", "--id", "d1", "--broker", "mqtt://d1:hunter2@h:99999"]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).not.toContain("hunter2");
    for (const url of ["mqtt://d1:hunter2@127.0.0.1:1", "mqtt://d1:hunter2@h:99999"]) {
      const sim = tether(["sim", "--devices", "1", "--duration", "1m", "--broker", url]);
      expect(sim.code).toBe(2);
      expect(sim.err).not.toContain("hunter2");
      const fleet = tether(["fleet", "serve", "--broker", url, "--db", path.join(tmp, "fleet.db")]);
      expect(fleet.code).toBe(2);
      expect(fleet.out + fleet.err).not.toContain("hunter2");
    }
  });

  it("checks tether fleet serve's broker account the same way: --password refused, a password needs --user, --ca needs mqtts://", () => {
    const db = path.join(tmp, "fleet-flags.db");
    const flag = tether(["fleet", "serve", "--broker", deadBroker, "--user", "fleet", "--password", "hunter2", "--db", db]);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--password is not accepted/);
    expect(flag.err).not.toContain("hunter2");
    const noUser = tether(["fleet", "serve", "--broker", deadBroker, "--db", db], { TETHER_PASSWORD: "hunter2" });
    expect(noUser.code).toBe(2);
    expect(noUser.err).toMatch(/a password needs a user name/);
    const caPlain = tether(["fleet", "serve", "--broker", deadBroker, "--ca", path.join(tmp, "none.pem"), "--db", db]);
    expect(caPlain.code).toBe(2);
    expect(caPlain.err).toMatch(/--ca applies to mqtts:\/\/ brokers only/);
    expect(fs.existsSync(db)).toBe(false);
  });

  it("refuses a retention horizon that is not a duration or is too short, before creating the database", () => {
    const db = path.join(tmp, "fleet-keep.db");
    const word = tether(["fleet", "serve", "--broker", deadBroker, "--db", db, "--keep-telemetry", "a month"]);
    expect(word.code).toBe(2);
    expect(word.err).toMatch(/--keep-telemetry "a month": expected a duration like 30d or 12h, or "forever"/);
    const short = tether(["fleet", "serve", "--broker", deadBroker, "--db", db, "--keep-fw-hourly", "1d"]);
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/--keep-fw-hourly "1d": must be at least 168h/);
    expect(fs.existsSync(db)).toBe(false);
  });

  it("refuses a password without a user, --ca with mqtt://, and a CA file that holds no certificate", () => {
    const noUser = tether(["device", "--id", "d1", "--broker", deadBroker], { TETHER_PASSWORD: "hunter2" });
    expect(noUser.code).toBe(2);
    expect(noUser.err).toMatch(/a password needs a user name/);
    const pwFile = path.join(tmp, "pw");
    fs.writeFileSync(pwFile, "hunter2\n");
    const both = tether(["device", "--id", "d1", "--broker", deadBroker, "--user", "d1", "--password-file", pwFile], { TETHER_PASSWORD: "x" });
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/one way/);

    const pem = path.join(tmp, "ca.pem");
    fs.writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const plain = tether(["device", "--id", "d1", "--broker", deadBroker, "--ca", pem]);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/--ca applies to mqtts:\/\/ brokers only/);
    const tlsBroker = deadBroker.replace("mqtt:", "mqtts:");
    const garbage = tether(["device", "--id", "d1", "--broker", tlsBroker, "--ca", pem]);
    expect(garbage.code).toBe(2);
    expect(garbage.err).toMatch(/certificate 1 does not parse/);
    fs.writeFileSync(pem, "not a certificate at all\n");
    expect(tether(["device", "--id", "d1", "--broker", tlsBroker, "--ca", pem]).err).toMatch(/no PEM certificate in it/);
    expect(tether(["device", "--id", "d1", "--broker", tlsBroker, "--ca", path.join(tmp, "missing.pem")]).err).toMatch(/ENOENT/);
  });
});

describe("tether device: the state directory", () => {
  it.each([
    ["null", "null", /expected a JSON object, found null/],
    ["an array", "[]", /expected a JSON object, found an array/],
    ["a value that is not base64", '{"oqm":1}', /the value of "oqm" is not base64/],
  ])("a kv.json holding %s is a clear error, not a TypeError or a fresh start", (_, text, why) => {
    const state = path.join(tmp, `kv-${text.length}`);
    fs.mkdirSync(state, { recursive: true });
    fs.writeFileSync(path.join(state, "kv.json"), text);
    const r = tether(["device", "--id", "d1", "--broker", deadBroker, "--state", state, "--power-on-max", "0"]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(why);
    expect(r.err).toMatch(/is damaged/);
    expect(r.err).not.toMatch(/TypeError/);
    expect(fs.readFileSync(path.join(state, "kv.json"), "utf8")).toBe(text); // nothing overwritten
    expect(fs.existsSync(path.join(state, "lock"))).toBe(false); // and the lock released
  });

  it("one process per state directory; a lock left by kill -9 is taken over", async () => {
    const state = path.join(tmp, "locked");
    const args = ["device", "--id", "lock-1", "--broker", deadBroker, "--state", state, "--power-on-max", "0"];
    const first = runCli(cli, args);
    running.push(first);
    await first.waitFor(/bootldr  bootloader: slot 0/, 30_000);
    const second = tether(args);
    expect(second.code).toBe(1);
    expect(second.err).toMatch(new RegExp(`state directory .* is in use by process ${first.child.pid}; one device process per state directory`));

    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    expect(fs.existsSync(path.join(state, "lock"))).toBe(true); // a stale lock stays behind
    const third = runCli(cli, args);
    running.push(third);
    await third.waitFor(/ link /, 30_000); // the agent runs (and the signal handler is in place)
    expect(JSON.parse(fs.readFileSync(path.join(state, "lock"), "utf8")).pid).toBe(third.child.pid);
    expect(await third.stop()).toBe(0);
    expect(fs.existsSync(path.join(state, "lock"))).toBe(false); // released at a clean stop
  }, 60_000);

  it("a state directory this user cannot write fails at start with one message", () => {
    if (process.getuid?.() !== 0) return; // needs root to drop the permission override
    // Root without CAP_DAC_OVERRIDE is held to the permission bits like any user, and still reads
    // the checkout as its owner (another uid could not read a clone inside a 0700 directory).
    const unprivileged = (state: string) =>
      spawnSync("setpriv", ["--bounding-set=-dac_override,-dac_read_search", "--", process.execPath, cli, "device", "--id", "d1", "--broker", deadBroker, "--state", state], { encoding: "utf8", timeout: 20_000 });
    const state = path.join(tmp, "read-only");
    fs.mkdirSync(state);
    fs.chmodSync(state, 0o555);
    const r = unprivileged(state);
    expect(r.error).toBeUndefined();
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/state directory .*read-only is not writable \(EACCES\)/);

    // A writable directory whose flash file this user cannot write (flash is written in place): also at start, and the lock released.
    const partly = path.join(tmp, "flash-read-only");
    fs.mkdirSync(path.join(partly, "flash"), { recursive: true });
    fs.writeFileSync(path.join(partly, "flash", "ota_0.bin"), new Uint8Array(16), { mode: 0o444 });
    const k = unprivileged(partly);
    expect(k.status, k.stderr).toBe(1);
    expect(k.stderr).toMatch(/ota_0\.bin is not writable \(EACCES\)/);
    expect(fs.existsSync(path.join(partly, "lock"))).toBe(false);
  });
});

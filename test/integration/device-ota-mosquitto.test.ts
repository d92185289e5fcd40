// The whole OTA path with the real pieces: `tether device` (booting agent code from its
// simulated flash slot) on a real Mosquitto, updated by `tether ota push` with a bundle that
// `tether ota sign` made from a real agent build. The device must reboot into the new code,
// pass its health check and confirm — and a build that crashes at start must be rolled back.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentPayload } from "../../tools/ota/app-image";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { buildCli, removeCli, runCli } from "../helpers/cli";

async function run(cli: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const p = runCli(cli, args);
  const code = await new Promise<number | null>((r) => p.child.once("exit", r));
  return { code, out: p.lines.join("\n") + p.stderr() };
}

describe("OTA end to end: tether device + tether ota push on Mosquitto", () => {
  let broker: Mosquitto;
  let cli: string;
  const dir = mkdtempSync(join(tmpdir(), "tether-ota-e2e-"));
  beforeAll(async () => {
    [broker, cli] = await Promise.all([startMosquitto(), buildCli("device-ota")]);
    expect((await run(cli, ["ota", "keygen", "--out", join(dir, "fleet")])).code).toBe(0);
  });
  afterAll(async () => {
    await broker?.stop();
    if (cli) removeCli(cli);
    rmSync(dir, { recursive: true, force: true });
  });

  async function signedBuild(version: string, counter: number, crash = false): Promise<string> {
    const payload = await buildAgentPayload(version);
    const code = crash ? new Uint8Array([...new TextEncoder().encode('throw new Error("bad build");\n'), ...payload]) : payload;
    const image = join(dir, `agent-${version}.mjs`);
    writeFileSync(image, code);
    const out = join(dir, `bundle-${version}`);
    const r = await run(cli, ["ota", "sign", "--key", join(dir, "fleet.key"), "--image", image, "--version", version, "--hardware", "tether-devkit", "--counter", String(counter), "--out", out]);
    expect(r.code, r.out).toBe(0);
    return out;
  }

  it("updates to a new build and confirms it; a crashing build is rolled back and the device keeps running", async () => {
    const [good, bad] = await Promise.all([signedBuild("0.2.0", 1), signedBuild("0.3.0", 2, true)]);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const device = runCli(cli, ["device", "--id", "ota-1", "--broker", url, "--state", join(dir, "state"), "--ota-key", join(dir, "fleet.pub"), "--power-on-max", "0", "--interval", "500", "--json"]);
    try {
      await device.waitFor(/"type":"link","state":"online"/);

      const push = await run(cli, ["ota", "push", "--broker", url, "--bundle", good, "--device", "ota-1", "--wait", "60"]);
      expect(push.code, `${push.out}\n--- device:\n${device.lines.slice(-30).join("\n")}\n${device.stderr()}`).toBe(0);
      await device.waitFor(/"type":"boot","version":"0\.2\.0","slot":1/, 30_000);
      await device.waitFor(/"type":"ota".*"result":1\b/, 30_000);

      const pushBad = await run(cli, ["ota", "push", "--broker", url, "--bundle", bad, "--device", "ota-1", "--wait", "90", "--clear"]);
      expect(pushBad.out).toMatch(/RolledBack|105/);
      // Back on 0.2.0 in slot 1, still publishing telemetry.
      const back = device.lines.length;
      await device.waitFor(/"type":"boot","version":"0\.2\.0","slot":1/, 30_000);
      expect(device.lines.slice(back).join("\n") + (await device.waitFor(/"type":"telemetry"/, 10_000))).toMatch(/telemetry/);
      expect(device.lines.join("\n")).toMatch(/crash: slot 0 does not start \(bad build\)/);
    } finally {
      await device.stop();
    }
  }, 240_000);
});

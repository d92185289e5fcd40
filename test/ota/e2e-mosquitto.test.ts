/**
 * End to end: a virtual device on a real Mosquitto is updated by `tether ota push`
 * (the reference publisher, through the CLI entry) and confirms the new version.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { NodeClock } from "../../device/platform/node/clock";
import { nodeNetwork } from "../../device/platform/node/network";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { MqttOtaDevice } from "../../host-sim/boot/mqtt-ota-device";
import { runOtaCommand } from "../../tools/ota/cli";
import { writeBundle } from "../../tools/ota/bundle-files";
import { OtaResult } from "../../device/core/ota/codes";
import { bundle, factory, HW, KEY } from "./fixtures";

let broker: Mosquitto;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-ota-e2e-"));
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("OTA over a real Mosquitto", () => {
  it("tether ota push updates a virtual device, which confirms v2", async () => {
    const { flash, kv } = factory(1);
    const dir = path.join(tmp, "v2");
    writeBundle(dir, bundle(2, { securityCounter: 2 }));
    const clock = new NodeClock();
    const device = new MqttOtaDevice({ deviceId: "dev-e2e-1", host: broker.host, port: broker.port, flash, kv, hardwareId: HW, trustedKeys: [KEY.publicKey], clock, network: nodeNetwork, sha256: nodeSha256, wallClock: { now: () => Date.now() } });
    device.boot();
    try {
      const lines: string[] = [];
      const code = await runOtaCommand(["push", "--broker", `mqtt://127.0.0.1:${broker.port}`, "--bundle", dir, "--device", "dev-e2e-1", "--wait", "20"], (l) => lines.push(l), (l) => lines.push(l));
      expect(code, lines.join("\n")).toBe(0);
      expect(lines.join("\n")).toMatch(/device result: 1 \(Success\)/);
      expect(device.boots.map((b) => b.version)).toEqual([1, 2]);
      expect(device.statuses.at(-1)).toMatchObject({ result: OtaResult.Success, version: 2, running: 2 });
    } finally {
      device.stop();
      clock.clearAll();
    }
  }, 30_000);
});

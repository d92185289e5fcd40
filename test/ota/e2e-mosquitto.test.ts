/**
 * End to end with the real Agent: a virtual device (host-sim/node-device.ts: the agent code that
 * runs is the build in its flash slot) on a real Mosquitto is updated by `tether ota push` to a
 * real agent build. Half-way through the download the link is cut at the transport, without
 * MQTT DISCONNECT: the broker publishes the Last Will, the agent reconnects on its own, resumes
 * the download, boots the new build and confirms it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { nodeNetwork } from "../../device/platform/node/network";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { startNodeDevice } from "../../host-sim/node-device";
import { LinkCutter } from "../../host-sim/boot/link-cutter";
import { runOtaCommand } from "../../tools/ota/cli";
import { writeBundle } from "../../tools/ota/bundle-files";
import { createBundle } from "../../tools/ota/bundle";
import { versionNumber } from "../../device/core/ota/version";
import { OtaResult, OtaState } from "../../device/core/ota/codes";
import type { AgentEvent } from "../../device/core/agent";
import { FIRMWARE_VERSION } from "../../device/core/version";
import { agentPayload } from "./agent-image";
import { HW, KEY } from "./fixtures";

let broker: Mosquitto;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-ota-e2e-"));
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => (cond() ? resolve() : Date.now() - t0 > ms ? reject(new Error(`timed out waiting for ${what}`)) : setTimeout(tick, 20));
    tick();
  });
}

describe("OTA over a real Mosquitto with the real Agent", () => {
  it("tether ota push updates the device across a link cut without DISCONNECT; it resumes, boots 0.2.0 and confirms it", async () => {
    const dir = path.join(tmp, "v2");
    // ~400 KB: about 100 blocks of 4 KiB, so the cut lands mid-download.
    writeBundle(dir, createBundle(await agentPayload("0.2.0", 400_000), { version: versionNumber("0.2.0"), hardwareId: HW, securityCounter: 2 }, KEY.secretKey, nodeSha256));
    const id = "dev-e2e-1";
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const events: AgentEvent[] = [];
    const cutter = new LinkCutter(nodeNetwork);
    let cutAt: number | undefined;
    const watcher = mqtt.connect(url, { clientId: "e2e-watcher" });
    const status: string[] = [];
    watcher.on("message", (_t, p) => status.push(p.toString()));
    await new Promise<void>((r) => watcher.subscribe(`tether/${id}/status`, { qos: 1 }, () => r()));
    const device = await startNodeDevice({
      deviceId: id,
      brokers: [url],
      network: cutter,
      ota: { hardwareId: HW, trustedKeys: [KEY.publicKey], options: { window: 2 } },
      link: { backoff: { powerOnMaxMs: 0 } },
      log: () => {},
      onEvent: (e) => {
        events.push(e);
        // Cut once, mid-download, from inside the agent's own event.
        if (cutAt === undefined && e.type === "ota" && e.status.state === OtaState.Downloading && (e.status.received ?? 0) >= 32) {
          cutAt = events.length;
          queueMicrotask(() => cutter.cut());
        }
      },
    });
    try {
      await waitFor(() => status.includes("online"), 20_000, "the device online");
      const lines: string[] = [];
      const code = await runOtaCommand(["push", "--broker", url, "--bundle", dir, "--device", id, "--wait", "90"], (l) => lines.push(l), (l) => lines.push(l));
      expect(code, lines.join("\n")).toBe(0);
      expect(lines.join("\n")).toMatch(/device result: 1 \(Success\)/);
      expect(cutAt, "the link was cut mid-download").toBeDefined();
      expect(cutter.cuts).toBe(1);
      // The broker saw an abrupt loss: it published the Last Will ("offline") between two "online"s.
      const offline = status.indexOf("offline");
      expect(offline).toBeGreaterThan(0);
      expect(status.slice(offline)).toContain("online");
      const boots = events.filter((e): e is Extract<AgentEvent, { type: "boot" }> => e.type === "boot");
      expect(boots.map((b) => `${b.version}@${b.slot}`)).toEqual([`${FIRMWARE_VERSION}@0`, "0.2.0@1"]);
      const last = events.filter((e) => e.type === "ota").at(-1);
      expect(last).toMatchObject({ status: { result: OtaResult.Success, version: versionNumber("0.2.0") } });
    } finally {
      device.stop();
      watcher.end(true);
    }
  }, 180_000);
});

// `tether ota push --clear` (tools/ota/push.ts): the device's offer is cleared after its final
// status, and the image's shared blocks only when no other device's retained offer names the
// image: clearing them under another device's download would stall it. On aedes and Mosquitto.
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { encodeStatus } from "../../device/core/ota/status";
import { parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { toHex } from "../../device/core/ota/bytes";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { createBundle, keyPairFromSeed } from "../../tools/ota/bundle";
import { pushBundle } from "../../tools/ota/push";
import { realBrokers } from "../service/helpers";

const brokers = realBrokers();

const key = keyPairFromSeed(new Uint8Array(32).fill(9));
const bundle = (fill: number) => createBundle(new Uint8Array(5000).fill(fill), { version: 2_000_000 + fill, hardwareId: "tether-devkit", securityCounter: 1, blockSize: 4096 }, key.secretKey, nodeSha256);

/** A stand-in device: answers its offer with success (the agent's OTA path is tested elsewhere). */
async function answeringDevice(url: string, id: string) {
  const c = await mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 0 });
  c.on("message", (_t, payload) => {
    if (payload.length === 0) return;
    const version = parseManifest(parseEnvelope(new Uint8Array(payload)).manifestBytes).version;
    void c.publishAsync(`tether/${id}/ota/status`, Buffer.from(encodeStatus({ state: 0, result: 1, version, running: version })), { qos: 1 });
  });
  await c.subscribeAsync(`tether/${id}/ota/manifest`, { qos: 1 });
  return c;
}

/** The retained messages under `filter` right now. */
async function retained(url: string, filter: string): Promise<string[]> {
  const c = await mqtt.connectAsync(url, { clientId: `look-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 0 });
  const got: string[] = [];
  c.on("message", (t, p, packet) => packet.retain && p.length > 0 && got.push(t));
  await c.subscribeAsync(filter, { qos: 1 });
  await new Promise((r) => setTimeout(r, 400));
  await c.endAsync();
  return got.sort();
}

describe.each(brokers)("ota push --clear on $name", ({ url }) => {
  it("keeps the shared blocks while another device's offer names the image, clears them when none does", async () => {
    const b = bundle(1);
    const hex = toHex(b.manifest.sha256);
    const blocks = `tether/ota/image/${hex}/block/+`;
    const devA = await answeringDevice(url(), "clear-a");
    const other = await mqtt.connectAsync(url(), { clientId: "clear-backend", reconnectPeriod: 0 });
    const logs: string[] = [];
    try {
      // clear-b has been offered the same image (it is downloading it).
      await other.publishAsync("tether/clear-b/ota/manifest", Buffer.from(b.envelope), { qos: 1, retain: true });
      const first = await pushBundle({ broker: url(), deviceId: "clear-a", envelope: b.envelope, image: b.image, waitSeconds: 10, clear: true, log: (l) => logs.push(l) });
      expect(first).toMatchObject({ ok: true, blocksCleared: false });
      expect(logs.join("\n")).toMatch(/image blocks kept: still offered to 1 other device\(s\) \(clear-b\)/);
      expect(await retained(url(), blocks)).toHaveLength(2);
      expect(await retained(url(), "tether/+/ota/manifest")).toEqual(["tether/clear-b/ota/manifest"]);

      // clear-b's offer is withdrawn: the next push --clear takes the blocks away.
      await other.publishAsync("tether/clear-b/ota/manifest", Buffer.alloc(0), { qos: 1, retain: true });
      logs.length = 0;
      const second = await pushBundle({ broker: url(), deviceId: "clear-a", envelope: b.envelope, image: b.image, waitSeconds: 10, clear: true, log: (l) => logs.push(l) });
      expect(second).toMatchObject({ ok: true, blocksCleared: true });
      expect(logs.join("\n")).toMatch(/offer and its 2 image blocks cleared/);
      expect(await retained(url(), blocks)).toEqual([]);
      expect(await retained(url(), "tether/+/ota/manifest")).toEqual([]);
    } finally {
      await devA.endAsync();
      await other.endAsync();
    }
  }, 60_000);
});

// One copy of an image on a real Mosquitto for the whole fleet (docs/protocol/ota.md): the fleet
// service's offer publisher puts the blocks once on tether/ota/image/<sha256>/block/<n> and the
// signed manifest on each device's own topic; real agents (in-process node devices, the same
// code as `tether device`) download, install and confirm it. Afterwards the broker holds exactly
// one retained copy of each block and no per-device block. A tampered shared block is still
// refused by the device: it checks every block against the signed manifest.
import mqtt from "mqtt";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentEvent } from "../../device/core/agent";
import { toHex } from "../../device/core/ota/bytes";
import { OtaResult } from "../../device/core/ota/codes";
import type { OtaStatus } from "../../device/core/ota/status";
import { imageBlockTopic } from "../../device/core/ota/topics";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { startNodeDevice, type RunningDevice } from "../../host-sim/node-device";
import type { LoadedBundle } from "../../service/rollouts/bundle";
import { OfferPublisher } from "../../service/rollouts/offers";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import { buildAgentPayload } from "../../tools/ota/app-image";
import { createBundle, keyPairFromSeed, splitBlocks } from "../../tools/ota/bundle";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";

const DEVICES = 3;
const HARDWARE = "tether-devkit";
const KEYS = keyPairFromSeed(new Uint8Array(32).fill(11));

function loaded(version: string, versionNum: number, counter: number, payload: Uint8Array): LoadedBundle {
  const b = createBundle(payload, { version: versionNum, hardwareId: HARDWARE, securityCounter: counter }, KEYS.secretKey, nodeSha256);
  return { dir: version, envelope: b.envelope, image: b.image, manifest: b.manifest, blocks: splitBlocks(b.image, b.manifest.blockSize), offerId: new Uint8Array(32) };
}

/** Every retained message on the broker under `filter`: what a new subscriber is sent at once. */
async function retained(url: string, filter: string): Promise<Map<string, Buffer>> {
  const c = await mqtt.connectAsync(url, { clientId: `retained-${Math.random().toString(36).slice(2)}`, clean: true, reconnectPeriod: 0 });
  const seen = new Map<string, Buffer>();
  c.on("message", (topic, payload, packet) => {
    if (packet.retain && payload.length > 0) seen.set(topic, payload);
  });
  await c.subscribeAsync(filter, { qos: 1 });
  // Retained messages follow the SUBACK at once; a round trip to our own topic marks their end.
  await c.subscribeAsync("tether-test/sync", { qos: 1 });
  await c.publishAsync("tether-test/sync", "x", { qos: 1 });
  await new Promise((r) => setTimeout(r, 300));
  await c.endAsync();
  return seen;
}

async function until<T>(what: string, ms: number, get: () => T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("one retained copy of an image for the fleet, on Mosquitto", () => {
  let broker: Mosquitto;
  let url: string;
  let payload: Uint8Array;
  const dir = mkdtempSync(join(tmpdir(), "tether-ota-shared-"));
  const devices: RunningDevice[] = [];
  const statuses = new Map<string, OtaStatus[]>();
  const boots = new Map<string, string[]>();
  const online = new Map<string, boolean>();

  beforeAll(async () => {
    [broker, payload] = await Promise.all([startMosquitto(), buildAgentPayload("0.2.0")]);
    url = `mqtt://127.0.0.1:${broker.port}`;
  });
  afterAll(async () => {
    for (const d of devices) d.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("N devices updated from one image leave one retained copy of each block; a tampered shared block is refused", async () => {
    const ids = Array.from({ length: DEVICES }, (_, i) => `shared-${i}`);
    for (const id of ids) {
      statuses.set(id, []);
      boots.set(id, []);
      devices.push(
        await startNodeDevice({
          deviceId: id,
          brokers: [url],
          ota: { hardwareId: HARDWARE, trustedKeys: [KEYS.publicKey], options: { stallTimeoutMs: 400 } },
          log: () => {},
          link: { backoff: { powerOnMaxMs: 0 } },
          onEvent: (e: AgentEvent) => {
            if (e.type === "ota") statuses.get(id)!.push(e.status);
            if (e.type === "boot") boots.get(id)!.push(e.version);
            if (e.type === "link") online.set(id, e.state === "online");
          },
        }),
      );
    }
    const good = loaded("0.2.0", 2000, 1, payload);
    const hex = toHex(good.manifest.sha256);
    const transport = new MqttSocketTransport({ url, clientId: "svc-shared" });
    await transport.start(["tether/+/ota/status"]);
    const logged: string[] = [];
    const publisher = new OfferPublisher(transport, (line) => logged.push(line));
    try {
      await until("devices online", 30_000, () => (ids.every((id) => online.get(id)) ? true : undefined));
      await Promise.all(ids.map((id) => publisher.offer(id, good)));
      for (const id of ids) {
        await until(`${id} confirms 0.2.0`, 90_000, () => statuses.get(id)!.find((s) => s.state === 0 && s.result === OtaResult.Success && s.running === 2000));
      }

      const images = await retained(url, "tether/ota/image/#");
      expect([...images.keys()].sort()).toEqual(good.blocks.map((_, n) => imageBlockTopic(hex, n)).sort());
      good.blocks.forEach((b, n) => expect(new Uint8Array(images.get(imageBlockTopic(hex, n))!)).toEqual(b));
      const all = await retained(url, "tether/#");
      expect([...all.keys()].filter((t) => /\/block\//.test(t)).length).toBe(good.blocks.length); // none per device
      expect([...all.keys()].filter((t) => t.endsWith("/ota/manifest")).sort()).toEqual(ids.map((id) => `tether/${id}/ota/manifest`).sort());

      // No rollout needs the image any more: its blocks are cleared.
      await publisher.clearExcept(new Set());
      expect((await retained(url, "tether/ota/image/#")).size).toBe(0);
      expect(logged.join("\n")).toMatch(new RegExp(`image ${hex.slice(0, 12)}… no longer needed: ${good.blocks.length} retained blocks cleared`));

      // A tampered block on the shared topic: the device refuses it and stays on 0.2.0.
      const next = loaded("0.3.0", 3000, 2, payload);
      const nextHex = toHex(next.manifest.sha256);
      const tampered = next.blocks.map((b) => b.slice());
      tampered[1][10] ^= 0xff;
      const raw = await mqtt.connectAsync(url, { clientId: "tamperer", clean: true, reconnectPeriod: 0 });
      try {
        for (let n = 0; n < tampered.length; n++) await raw.publishAsync(imageBlockTopic(nextHex, n), Buffer.from(tampered[n]), { qos: 1, retain: true });
        await raw.publishAsync(`tether/${ids[0]}/ota/manifest`, Buffer.from(next.envelope), { qos: 1, retain: true });
      } finally {
        await raw.endAsync();
      }
      const refused = await until("integrity failure", 60_000, () => statuses.get(ids[0])!.find((s) => s.version === 3000 && s.result === OtaResult.IntegrityFailure));
      expect(refused.detail).toMatch(/block 1 failed its hash/);
      expect(statuses.get(ids[0])!.some((s) => s.version === 3000 && s.state === 2)).toBe(false); // never "downloaded"
      expect(boots.get(ids[0])!).not.toContain("0.3.0");
      expect(devices[0].agent).toBeDefined();
    } finally {
      await transport.close();
    }
  }, 240_000);
});

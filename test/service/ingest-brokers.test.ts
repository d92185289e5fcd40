// The registry fed through real brokers (aedes in-process, Debian's Mosquitto): telemetry,
// online/offline (retained will), OTA status; QoS 1 redeliveries deduplicated by (device, seq);
// bad payloads skipped; the HTTP API reads what was stored.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { realClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import { tempDir } from "../helpers/temp";
import { otaStatus, publisher, realBrokers, telemetry, waitUntil } from "./helpers";

const brokers = realBrokers();


describe.each(brokers)("ingest through $name", ({ url }) => {
  it("stores telemetry, status and OTA status, drops duplicates and bad payloads", async () => {
    const dir = tempDir("fleet-ingest-");
    const clientId = `svc-${Math.random().toString(36).slice(2)}`;
    const service = new FleetService({ db: path.join(dir, "fleet.db"), clock: realClock, transport: new MqttSocketTransport({ url: url(), clientId }) });
    await service.start();
    const at = await service.listen({ host: "127.0.0.1", port: 0 });
    const pub = await publisher(url());
    try {
      await pub.send("tether/dev-1/status", "online", true);
      for (let seq = 1; seq <= 5; seq++) await pub.send("tether/dev-1/telemetry", telemetry("dev-1", seq));
      await pub.send("tether/dev-1/telemetry", telemetry("dev-1", 3)); // a redelivery
      // A reboot after a watchdog reset: uptime goes back, reconnects since boot restart.
      await pub.send("tether/dev-1/telemetry", telemetry("dev-1", 6, { uptimeMs: 5_000, resetReason: "watchdog", link: { state: "online", reconnects: 2 } }));
      await pub.send("tether/dev-1/telemetry", Uint8Array.of(0xff, 0x00, 0x13)); // not CBOR
      await pub.send("tether/dev-2/telemetry", telemetry("dev-1", 9)); // names another device
      await pub.send("tether/dev-1/ota/status", otaStatus({ state: 1, result: 0, version: 1_003_000, received: 3, total: 10, running: 1_002_000 }), true);
      await pub.send("tether/dev-1/status", "offline", true);
      await waitUntil(() => service.ingest.stats.messages >= 11, 10_000, "11 messages");
      expect(service.ingest.stats).toMatchObject({ telemetry: 6, duplicates: 1, rejected: 2 });

      const res = await fetch(`${at.url}/api/devices/dev-1`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { device: Record<string, unknown>; events: { kind: string }[]; telemetry: unknown[] };
      expect(body.device).toMatchObject({
        id: "dev-1", online: 0, firmware: "1.2.0", firmware_num: 1_002_000, last_seq: 6, telemetry_count: 6, duplicates: 1,
        boots: 1, crash_resets: 1, reconnects_total: 2, battery_pct: 80, rssi_dbm: -60, ota_state: 1, ota_version: 1_003_000,
      });
      expect(body.telemetry).toHaveLength(6);
      expect(body.events.map((e) => e.kind)).toEqual(["offline", "ota", "boot", "online"]);
      expect(service.registry.get("dev-2")).toBeUndefined();
    } finally {
      await pub.close();
      await service.close();
    }
  });

  it("acknowledges only what it stored: a batch the database refuses is delivered again", async () => {
    const dir = tempDir("fleet-ingest-");
    const clientId = `svc-${Math.random().toString(36).slice(2)}`;
    const transport = new MqttSocketTransport({ url: url(), clientId });
    const service = new FleetService({ db: path.join(dir, "fleet.db"), clock: realClock, transport });
    let failNext = 1;
    const handle = service.ingest.handle.bind(service.ingest);
    transport.onBatch((batch) => {
      if (failNext-- > 0) throw new Error("disk full (test)");
      handle(batch);
    });
    await service.start();
    const pub = await publisher(url());
    try {
      await pub.send("tether/dev-9/telemetry", telemetry("dev-9", 1));
      await waitUntil(() => service.registry.get("dev-9") !== undefined, 20_000, "the redelivered batch");
      expect(service.registry.get("dev-9")).toMatchObject({ last_seq: 1, telemetry_count: 1 });
    } finally {
      await pub.close();
      await service.close();
    }
  });
});

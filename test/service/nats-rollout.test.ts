// A rollout against the 3-node NATS cluster (MQTT over JetStream, replicated 3 ways): the node
// the fleet service is connected to is killed mid-rollout; the service fails over to another
// node and the rollout completes with every device offered once.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import { startNatsCluster, type NatsCluster } from "../fleet/nats-cluster";
import { tempDir } from "../helpers/temp";
import { waitUntil } from "./helpers";
import { makeBundle, startDevice } from "./scripted-fleet";

let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});

// What losing a node does to nats-server 2.9.10's MQTT layer (seen with TETHER_NATS_TRACE=<dir>,
// which writes each node's -DV log there): JetStream API calls time out (4 s) while the cluster
// re-elects leaders, so QoS 1 publishes on the surviving nodes fail and their connections are
// closed; the devices reconnect, and their SUBSCRIBE is answered 0x80 because the consumer could
// not be created in time. A device that does not ask again stays connected, sends telemetry, and
// never sees an offer. The agent and the service retry a refused subscription (device/core/mqtt/
// client.ts, service/transport/mqtt-socket.ts); the scripted devices do as the agent does.
describe("rollout on a 3-node NATS cluster", () => {
  it("completes after the service's node is killed mid-rollout", async () => {
    const dir = tempDir("fleet-nats-");
    const log: string[] = [];
    const [u1, u2, u3] = cluster.mqttUrls;
    const service = new FleetService({
      db: path.join(dir, "fleet.db"), clock: realClock,
      transport: new MqttSocketTransport({ url: [u1, u2, u3], clientId: "svc-nats", log: (l) => log.push(`${Date.now()} ${l}`) }), rollouts: { tickMs: 200, healthEveryMs: 1_000_000, resendMs: 5_000 },
      log: (l) => log.push(`${Date.now()} ${l}`),
    });
    await service.start();
    // The devices sit on the nodes that stay up.
    const devices = await Promise.all(Array.from({ length: 12 }, (_, i) => startDevice(i % 2 ? u2 : u3, `nats-${i}`, 1_002_000, "succeed", { reportMs: 400 })));
    try {
      await waitUntil(() => service.registry.list({ limit: 1, offset: 0, prefix: "nats-", firmware: "1.2.0" }).total === 12, 20_000, "devices registered");
      const created = service.rollouts.create({
        bundle: makeBundle(path.join(dir, "bundle"), 1_003_000), target: "firmware < 1.3.0", canary: 2, waves: [50, 100], ratePerMinute: 600,
        maxFailurePct: 10, minExecuted: 2, timeoutMs: 120_000, soakMs: 500, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3,
        health: { marginPct: 20, minDevices: 10, alpha: 0.001 },
      });
      await waitUntil(() => (service.rollouts.status(created.id).counts as { succeeded: number }).succeeded >= 2, 30_000, "the canary");
      cluster.kill(0);
      await waitUntil(() => service.rollouts.status(created.id).status !== "running", 90_000, "the end of the rollout").catch((err) => {
        const st = service.rollouts.status(created.id) as { counts: unknown; wave: number };
        const devs = service.rollouts.devices(created.id).filter((d) => d.state !== "succeeded").map((d) => [d.deviceId, d.state, d.wave, d.offers, JSON.stringify(service.registry.get(d.deviceId))]);
        throw new Error(`${(err as Error).message}: ${JSON.stringify(st.counts)} wave ${st.wave}\n${JSON.stringify(devs)}\n${log.join("\n")}`);
      });
      const s = service.rollouts.status(created.id) as { status: string; counts: { succeeded: number; total: number } };
      expect(s.status).toBe("completed");
      expect(s.counts).toMatchObject({ total: 12, succeeded: 12 });
      for (const d of devices) expect(d.offers).toEqual([1_003_000]);
      expect(service.rollouts.devices(created.id).every((d) => d.offers === 1)).toBe(true);
    } finally {
      for (const d of devices) await d.stop();
      await service.close();
    }
  }, 180_000);
});

/**
 * A real-time fleet against a 3-node NATS cluster (MQTT over JetStream). Devices and the
 * backend get all three MQTT URLs and fail over among them; the node they all use is killed
 * in the middle of the run; no acknowledged telemetry may be lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { runRealtime } from "../../host-sim/fleet/run";
import type { FleetSummary } from "../../host-sim/fleet/metrics";
import { startNatsCluster, type NatsCluster } from "./nats-cluster";

const DEVICES = 24;
const RUN_MS = 20_000;
const KILL_AFTER_MS = 8_000;

describe("real-time fleet on a 3-node NATS cluster", () => {
  let cluster: NatsCluster;
  let summary: FleetSummary;
  let killedAt = 0;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    const scenario = validateScenario({
      drain: "40s",
      groups: [{ telemetry: { reportInterval: "1s" }, keepAlive: "5s", powerOnDelayMax: "2s" }],
    });
    summary = await runRealtime({
      devices: DEVICES,
      durationMs: RUN_MS,
      seed: 11,
      scenario,
      shards: 1,
      brokers: cluster.mqttUrls,
      onRunning: () => {
        setTimeout(() => {
          killedAt = Date.now();
          // Every device and the backend start on the first URL: kill that node.
          cluster.kill(0);
        }, KILL_AFTER_MS);
      },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("keeps every acknowledged telemetry record through the loss of a node", () => {
    expect(killedAt).toBeGreaterThan(0);
    expect(summary.checks.find((c) => c.name === "every device connected")?.ok).toBe(true);
    // ~1 record per second per device for 20 s.
    expect(summary.telemetry.published).toBeGreaterThan(DEVICES * 10);
    expect(summary.telemetry.lost, JSON.stringify(summary.checks)).toBe(0);
    expect(summary.telemetry.delivered).toBe(summary.telemetry.published);
  });

  it("failed the devices and the backend over to the surviving nodes", () => {
    expect(summary.reconnects).toBeGreaterThanOrEqual(DEVICES);
    expect(summary.realtime?.backendConnects).toBeGreaterThanOrEqual(2);
    // JetStream kept the devices' persistent sessions: the surviving nodes resumed them.
    expect(summary.realtime?.sessionPresentReconnects).toBeGreaterThanOrEqual(DEVICES);
    console.log(`nats fleet: ${JSON.stringify({ telemetry: summary.telemetry, reconnects: summary.reconnects, realtime: summary.realtime })}`);
  });
});

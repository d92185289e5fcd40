/**
 * A real-time fleet against a 3-node NATS cluster (MQTT over JetStream). Devices and the
 * backend get all three MQTT URLs and fail over among them; the node they all use is killed
 * in the middle of the run; no acknowledged telemetry may be lost.
 *
 * The budget: a device's outbox keeps 32 records besides the 4 in flight
 * (device/core/link/outbox.ts) and drops the oldest past that, counted as queueDropped
 * (documented behaviour; this test then fails). At one record every REPORT_S seconds it loses
 * nothing through an outage of up to 32 · REPORT_S seconds. The outage a device sees is the
 * cluster's recovery plus its own backoff, and the backoff is not scaled down with the test's
 * intervals: the attempt counter resets only after 60 s online, so every failed attempt after
 * the kill doubles the ceiling (1, 2, 4, 8, 16 s...), and each attempt on a node that is still
 * electing stream leaders costs up to the 10 s CONNACK timeout (nats-server's own JetStream
 * requests time out after 4 s). At 1 s that left 32 s, and 48-device runs against a CPU-starved
 * cluster saw devices offline, or online without a PUBACK, for 28-46 s. At 2 s the budget is
 * 64 s (8 such runs at 2 s used at most 11 of the 32 records). A failure prints the log of the
 * device of the first lost record.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { runRealtime } from "../../host-sim/fleet/run";
import type { FleetSummary } from "../../host-sim/fleet/metrics";
import { startNatsCluster, type NatsCluster } from "./nats-cluster";

const DEVICES = 24;
/** Lines of each device's log kept for a failure message. */
const LOG_LINES = 150;
const RUN_MS = 20_000;
const REPORT_S = 2;
const KILL_AFTER_MS = 8_000;

describe("real-time fleet on a 3-node NATS cluster", () => {
  let cluster: NatsCluster;
  let summary: FleetSummary;
  let killedAt = 0;
  const started = Date.now();
  const logs = new Map<string, string[]>();
  /** The log of the device of the first lost record (link states, closes, backoff waits, outbox drops). */
  const lostDeviceLog = (): string => {
    const id = /dev-\d+/.exec(summary.checks.find((c) => !c.ok)?.detail ?? "")?.[0];
    return id ? `${id} (node killed at ${killedAt - started} ms):\n${(logs.get(id) ?? []).join("\n")}` : "";
  };

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    const scenario = validateScenario({
      drain: "40s",
      groups: [{ telemetry: { reportInterval: `${REPORT_S}s` }, keepAlive: "5s", powerOnDelayMax: "2s" }],
    });
    summary = await runRealtime({
      devices: DEVICES,
      durationMs: RUN_MS,
      seed: 11,
      scenario,
      shards: 1,
      brokers: cluster.mqttUrls,
      deviceLog: (id) => {
        const lines: string[] = [];
        logs.set(id, lines);
        return (level, message) => {
          if (lines.length === LOG_LINES) lines.shift();
          lines.push(`${Date.now() - started} ${level} ${message}`);
        };
      },
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
    // One record every REPORT_S per device for 20 s, less a power-on delay of up to 2 s: ~9-10.
    expect(summary.telemetry.published).toBeGreaterThan(DEVICES * 8);
    expect(summary.telemetry.lost, `${JSON.stringify(summary.checks)} queueDropped ${summary.telemetry.queueDropped}\n${lostDeviceLog()}`).toBe(0);
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

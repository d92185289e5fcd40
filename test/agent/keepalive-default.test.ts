/**
 * The agent's default keep-alive follows its report interval (device/core/link/default-keepalive.ts).
 * With the old fixed 60 s and telemetry every 60 s, every report was followed 45 s later by a
 * PINGREQ/PINGRESP pair: half the packets per message, a second radio wake a minute. Counted
 * here at the virtual broker, packet by packet, as the device's bytes arrive.
 */
import { describe, expect, it } from "vitest";
import { Agent, type AgentConfig } from "../../device/core/agent";
import { defaultKeepAliveSec } from "../../device/core/link/default-keepalive";
import type { Packet } from "../../device/core/mqtt/codec";
import { utf8Encode } from "../../device/core/mqtt/utf8";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { blankStorage, virtualDevicePorts } from "../../host-sim/virtual-device";

const MIN = 60_000;

/** An agent on a virtual broker that counts what the device sends, by packet type. */
function rig(config: Partial<AgentConfig>, storage = blankStorage()) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const sent: Packet[] = [];
  const onPacket = broker.onPacket.bind(broker);
  broker.onPacket = (conn, p) => {
    sent.push(p);
    onPacket(conn, p);
  };
  const acked: number[] = [];
  broker.subscribeInternal("tether/+/telemetry", (_t, payload) => acked.push(decodeTelemetryBatch(payload).seq));
  const { ports } = virtualDevicePorts({ seed: 7, clock, network, storage });
  const agent = new Agent(ports, { deviceId: "ka-1", brokers: ["mqtt://broker:1883"], ...config });
  agent.start();
  const count = (type: Packet["type"]) => sent.filter((p) => p.type === type).length;
  const connects = () => sent.flatMap((p) => (p.type === "connect" ? [p.keepAlive] : []));
  return { clock, broker, agent, acked, count, connects };
}

describe("default keep-alive", () => {
  it("is max(60 s, 2 × report interval) in whole seconds, at most 1200 s (AWS IoT Core's maximum)", () => {
    expect(defaultKeepAliveSec(100)).toBe(60);
    expect(defaultKeepAliveSec(5_000)).toBe(60);
    expect(defaultKeepAliveSec(30_000)).toBe(60);
    expect(defaultKeepAliveSec(30_001)).toBe(61);
    expect(defaultKeepAliveSec(60_000)).toBe(120);
    expect(defaultKeepAliveSec(61_500)).toBe(123);
    expect(defaultKeepAliveSec(10 * MIN)).toBe(1200);
    expect(defaultKeepAliveSec(15 * MIN)).toBe(1200);
    expect(defaultKeepAliveSec(86_400_000)).toBe(1200);
  });

  it("60 s telemetry: no PINGREQ over 30 reports while PUBACKs come back", () => {
    const r = rig({ telemetry: { sampleIntervalMs: MIN, reportIntervalMs: MIN } });
    r.clock.advance(31 * MIN);
    expect(r.count("pingreq")).toBe(0);
    expect(r.connects()).toEqual([120]);
    expect(r.acked.length).toBeGreaterThanOrEqual(30);
    expect(r.count("puback")).toBe(0); // the device only sends PUBLISHes; the broker acks them
    expect(r.count("publish")).toBeGreaterThanOrEqual(30);
    expect(r.broker.stats.keepAliveExpiries).toBe(0);
  });

  it("still pings, and stays connected, once telemetry stops (backend sets a 1 h report interval)", () => {
    const r = rig({ telemetry: { sampleIntervalMs: MIN, reportIntervalMs: MIN } });
    r.clock.advance(10 * MIN);
    const reports = r.acked.length;
    r.broker.publishInternal("tether/ka-1/config", utf8Encode('{"id":1,"reportIntervalSec":3600}'), { qos: 1 });
    r.clock.advance(MIN);
    const quietFrom = r.count("pingreq");
    expect(quietFrom).toBe(0);
    r.clock.advance(30 * MIN);
    expect(r.acked.length).toBeLessThanOrEqual(reports + 1); // the report in flight at the change, at most
    // Keep-alive 120 s: a PINGREQ after 90 s without a send, so 20 in 30 minutes.
    expect(r.count("pingreq") - quietFrom).toBe(20);
    expect(r.connects()).toEqual([120]); // never reconnected
    expect(r.broker.stats.keepAliveExpiries).toBe(0);
  });

  it("after a reboot, a report interval the backend stored sets it (15 min → 1200 s)", () => {
    const storage = blankStorage();
    const first = rig({ telemetry: { sampleIntervalMs: MIN, reportIntervalMs: MIN } }, storage);
    first.clock.advance(5 * MIN);
    first.broker.publishInternal("tether/ka-1/config", utf8Encode('{"id":1,"reportIntervalSec":900}'), { qos: 1 });
    first.clock.advance(MIN);
    first.agent.stop();
    expect(first.connects()).toEqual([120]); // fixed in CONNECT for this connection
    const second = rig({ telemetry: { sampleIntervalMs: MIN, reportIntervalMs: MIN } }, storage);
    second.clock.advance(MIN);
    expect(second.connects()).toEqual([1200]);
  });

  it("an explicit keepAliveSec still wins (and pings between 60 s reports, as before)", () => {
    const r = rig({ keepAliveSec: 60, telemetry: { sampleIntervalMs: MIN, reportIntervalMs: MIN } });
    r.clock.advance(31 * MIN);
    expect(r.connects()).toEqual([60]);
    expect(r.count("pingreq")).toBeGreaterThanOrEqual(29);
  });

  it("without a telemetry config (5 s reports) it stays 60 s", () => {
    const r = rig({});
    r.clock.advance(MIN);
    expect(r.connects()).toEqual([60]);
  });
});

import { describe, expect, it } from "vitest";
import { Agent, AgentConfigError, type AgentEvent } from "../../device/core/agent";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { blankStorage, virtualDevicePorts } from "../../host-sim/virtual-device";

function rig(seed = 1) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const received: number[] = [];
  broker.subscribeInternal("tether/+/telemetry", (_t, payload) => received.push(decodeTelemetryBatch(payload).seq));
  const storage = blankStorage();
  const boot = (resetReason: "power-on" | "software" = "power-on") => {
    const events: AgentEvent[] = [];
    const device = virtualDevicePorts({ seed, clock, network, storage, resetReason });
    const agent = new Agent(
      device.ports,
      { deviceId: "dev-1", brokers: ["mqtt://broker:1883"], telemetry: { sampleIntervalMs: 1000, reportIntervalMs: 5000 } },
      (e) => events.push(e),
    );
    agent.start();
    return { agent, events, device };
  };
  return { clock, network, broker, received, boot };
}

describe("Agent", () => {
  it("refuses bad configuration with a clear error", () => {
    const { clock, network } = rig();
    const { ports } = virtualDevicePorts({ seed: 1, clock, network });
    expect(() => new Agent(ports, { deviceId: "bad id/with slash", brokers: ["mqtt://b"] })).toThrowError(AgentConfigError);
    expect(() => new Agent(ports, { deviceId: "ok", brokers: [] })).toThrowError(/at least one broker/);
    expect(() => new Agent(ports, { deviceId: "ok", brokers: ["tcp://b"] })).toThrowError(/not mqtt/);
  });

  it("boots, connects and publishes telemetry the backend can decode, with increasing sequence numbers", () => {
    const r = rig();
    const { events } = r.boot();
    r.clock.advance(31_000);
    expect(events[0]).toMatchObject({ type: "boot", slot: 0, resetReason: "power-on" });
    expect(events.some((e) => e.type === "link" && e.state === "online")).toBe(true);
    expect(r.received).toEqual([0, 1, 2, 3, 4, 5]);
    const batches = events.filter((e) => e.type === "telemetry");
    expect(batches.every((e) => e.type === "telemetry" && e.batch.battery !== undefined && e.batch.samples.length === 5)).toBe(true);
  });

  it("keeps sequence numbers increasing across a reboot on the same storage", () => {
    const r = rig();
    const first = r.boot();
    r.clock.advance(11_000);
    first.agent.stop();
    r.clock.advance(1000);
    const second = r.boot("software");
    r.clock.advance(11_000);
    second.agent.stop();
    expect(r.received.length).toBe(4);
    for (let i = 1; i < r.received.length; i++) expect(r.received[i]).toBeGreaterThan(r.received[i - 1]);
    expect(second.events[0]).toMatchObject({ type: "boot", resetReason: "software" });
  });

  it("stop() is idempotent and leaves no timer behind", () => {
    const r = rig();
    const { agent } = r.boot();
    r.clock.advance(7000);
    agent.stop();
    agent.stop();
    r.clock.runUntilIdle(r.clock.now() + 3_600_000);
    expect(r.clock.pending()).toBe(0);
  });

  it("reconnects after the broker goes away and comes back", () => {
    const r = rig();
    const { events } = r.boot();
    r.clock.advance(6000);
    r.broker.stop();
    r.clock.advance(20_000);
    r.broker.start();
    // Full-jitter backoff after ~6 failed attempts waits at most 64 s.
    r.clock.advance(120_000);
    const states = events.filter((e) => e.type === "link").map((e) => (e.type === "link" ? e.state : ""));
    expect(states.filter((s) => s === "online").length).toBeGreaterThanOrEqual(2);
    expect(states.at(-1)).toBe("online");
  });
});

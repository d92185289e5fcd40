// The battery and config paths through the real Agent (link, outbox, MQTT bytes) on a
// virtual device in virtual time, with the power wrappers charging the simulated cell.
import { describe, expect, it } from "vitest";
import { Agent, type AgentEvent } from "../../device/core/agent";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { Outbox } from "../../device/core/link/outbox";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { blankStorage, virtualDevicePorts, type DeviceStorage } from "../../host-sim/virtual-device";
import { poweredNetwork, poweredSensors } from "../../host-sim/battery/power";
import type { SimBatteryModel } from "../../host-sim/battery/sim-battery";
import { testSeed } from "../helpers/seed";

const SEED = testSeed(Date.now() % 1_000_000);
const replay = `SEED=${SEED} npx vitest run test/battery/agent-battery.test.ts`;

function rig() {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const received: { seq: number; samples: number; alarm?: string }[] = [];
  broker.subscribeInternal("tether/+/telemetry", (_t, p) => {
    const b = decodeTelemetryBatch(p);
    received.push({ seq: b.seq, samples: b.samples.length, alarm: b.battery?.alarm });
  });
  const results: unknown[] = [];
  broker.subscribeInternal("tether/+/config/result", (_t, p) => results.push(JSON.parse(new TextDecoder().decode(p))));
  const boot = (storage: DeviceStorage, batteryModel: Partial<SimBatteryModel>) => {
    const events: AgentEvent[] = [];
    const device = virtualDevicePorts({ seed: SEED, clock, network, storage, batteryModel });
    const ports = {
      ...device.ports,
      network: poweredNetwork(device.ports.network, device.battery),
      sensors: poweredSensors(device.ports.sensors, device.battery),
    };
    const agent = new Agent(ports, { deviceId: "dev-b", brokers: ["mqtt://broker:1883"], telemetry: { sampleIntervalMs: 60_000, reportIntervalMs: 300_000 } }, (e) =>
      events.push(e),
    );
    agent.start();
    return { agent, events, device };
  };
  return { clock, broker, received, results, boot };
}

const batteryEvents = (events: AgentEvent[]) =>
  events.flatMap((e) => (e.type === "battery" && e.event.type !== "status" ? [e.event.type === "alarm" ? e.event.alarm : e.event.type] : []));

describe(`Agent on a nearly flat battery (replay: ${replay})`, () => {
  it("alarms once, stretches reports, defers OTA, stops at brown-out with the queue saved; a reboot delivers it", () => {
    const r = rig();
    const storage = blankStorage();
    const first = r.boot(storage, { startPermille: 80, capacityVariationPermille: 0 });
    r.clock.advance(3_600_000);
    expect(first.agent.otaPrecondition()).toBe("battery-low");
    for (let h = 0; h < 48 && !batteryEvents(first.events).includes("brownout"); h++) r.clock.advance(3_600_000);
    expect(batteryEvents(first.events), replay).toEqual(["low", "critical", "brownout"]);
    expect(first.agent.otaPrecondition()).toBe("brownout");
    const stoppedAt = r.clock.now();
    const sentBefore = r.received.length;
    // Reports were stretched: after a batch that says "critical", the next comes 16 × 5 min later.
    const telemetry = first.events.flatMap((e) => (e.type === "telemetry" ? [e.batch] : []));
    let criticalGaps = 0;
    for (let i = 1; i < telemetry.length; i++) {
      if (telemetry[i].madeAtMs === telemetry[i - 1].madeAtMs) continue; // one report split in two batches
      if (telemetry[i - 1].battery?.alarm !== "critical") continue;
      expect(telemetry[i].madeAtMs - telemetry[i - 1].madeAtMs).toBe(16 * 300_000);
      criticalGaps++;
    }
    expect(criticalGaps, replay).toBeGreaterThan(0);
    // Every batch announces the interval the next report was armed with (key 15): the backend's
    // offline rule waits for exactly that gap, the stretch included. Only the batches flushed at
    // brown-out come before it.
    const reports = telemetry.filter((b, i) => i === 0 || b.madeAtMs !== telemetry[i - 1].madeAtMs);
    const announced = new Set<number>();
    for (let i = 1; i < reports.length; i++) {
      const gap = reports[i].madeAtMs - reports[i - 1].madeAtMs;
      const sec = reports[i - 1].reportIntervalSec;
      expect(sec, replay).toBeDefined();
      announced.add(sec!);
      if (i < reports.length - 1) expect(gap, `report ${i}`).toBe(sec! * 1000);
      else expect(gap).toBeLessThanOrEqual(sec! * 1000);
    }
    expect([...announced], "the cell starts at 8 %: critical, ×16 of 5 min").toEqual([4800]);
    // Nothing more goes out once stopped.
    r.clock.advance(6 * 3_600_000);
    expect(r.received.length).toBe(sentBefore);
    // The flushed samples sit in the link's persistent outbox.
    const outbox = new Outbox(storage.kv, () => {});
    expect(outbox.length, replay).toBeGreaterThan(0);
    const lastQueued = decodeTelemetryBatch(outbox.nextToSend()!.payload);
    expect(lastQueued.samples.length).toBeGreaterThan(0);
    expect(lastQueued.battery?.alarm).toBe("critical");

    // Power comes back (a charged cell): the reboot delivers the saved batches, in order.
    const second = r.boot(storage, { startPermille: 1000 });
    r.clock.advance(120_000);
    const delivered = r.received.slice(sentBefore).map((x) => x.seq);
    expect(delivered[0]).toBe(lastQueued.seq);
    for (let i = 1; i < delivered.length; i++) expect(delivered[i]).toBeGreaterThan(delivered[i - 1]);
    expect(stoppedAt).toBeGreaterThan(3_600_000);
    second.agent.stop();
  });
});

describe("Agent telemetry config from the backend", () => {
  it("applies a JSON config, answers it, and boots with it after a restart", () => {
    const r = rig();
    const storage = blankStorage();
    const first = r.boot(storage, {});
    r.clock.advance(30_000); // connected (power-on delay is random but short)
    r.broker.publishInternal("tether/dev-b/config", new TextEncoder().encode('{"id":1,"reportIntervalSec":60,"sampleIntervalSec":20}'), { qos: 1 });
    r.broker.publishInternal("tether/dev-b/config", new TextEncoder().encode('{"id":2,"reportIntervalSec":1}'), { qos: 1 });
    r.clock.advance(600_000);
    expect(r.results).toEqual([
      { id: 1, code: 0, reportIntervalSec: 60, sampleIntervalSec: 20 },
      { id: 2, code: 3, error: expect.stringMatching(/reportIntervalSec/), reportIntervalSec: 60, sampleIntervalSec: 20 },
    ]);
    const batches = first.events.filter((e) => e.type === "telemetry");
    expect(batches.at(-1)!.type === "telemetry" && batches.at(-1)!.batch.samples.length).toBe(3);
    first.agent.stop();
    r.clock.advance(1000);
    const second = r.boot(storage, {});
    r.clock.advance(600_000);
    const again = second.events.filter((e) => e.type === "telemetry");
    expect(again.length).toBeGreaterThanOrEqual(9); // every 60 s, not every 300 s
    second.agent.stop();
  });
});

/**
 * The client's one deadline timer (keep-alive check + oldest PUBACK deadline): it costs one
 * clock timer per telemetry-like publish, and each deadline is still honoured to the millisecond.
 */
import { describe, expect, test } from "vitest";
import { MqttClient, type MqttClientOptions, type MqttEvent } from "../../device/core/mqtt/client";
import { countingClock } from "../helpers/counting-clock";
import { TARGET, bytes, makeRig, type Rig } from "./rig";

function client(rig: Rig, options: Partial<MqttClientOptions>) {
  // The client's own timers only (the network's are set on rig.clock directly).
  const { clock, counted } = countingClock(rig.clock);
  const events: { at: number; e: MqttEvent }[] = [];
  const c = new MqttClient(
    { clock, network: rig.net, log: rig.log },
    { clientId: "dev1", keepAliveSec: 120, cleanSession: false, ackTimeoutMs: 30_000, ...options },
    (e) => events.push({ at: rig.clock.now(), e }),
  );
  return { c, counted, events };
}

describe("MqttClient deadline timer", () => {
  test("a publish every 60 s (keep-alive 120 s, PUBACK deadline 30 s) costs one client timer per publish", () => {
    const rig = makeRig();
    const { c, counted, events } = client(rig, {});
    c.connect(TARGET);
    rig.clock.advance(60_000);
    expect(c.connected).toBe(true);
    const before = counted.set;
    const publishes = 30;
    for (let i = 0; i < publishes; i++) {
      c.publish("tether/dev1/telemetry", bytes(`m${i}`), 1);
      rig.clock.advance(60_000);
    }
    expect(c.connected).toBe(true);
    expect(rig.received.map((r) => r.payload.length)).toHaveLength(publishes);
    expect(events.filter((x) => x.e.type === "acked")).toHaveLength(publishes);
    // Two deadline timers (keep-alive, PUBACK) would cost two per publish.
    expect(counted.set - before).toBeLessThanOrEqual(publishes + 1);
  });

  test("the PUBACK deadline fires on time although the keep-alive check is due much later", () => {
    const rig = makeRig();
    const { c, events } = client(rig, { ackTimeoutMs: 20_000 });
    c.connect(TARGET);
    rig.clock.advance(100);
    rig.broker.faults.noPuback = true;
    rig.clock.advance(1_234);
    const t0 = rig.clock.now();
    const id = c.publish("t", bytes("x"), 1);
    rig.clock.advance(60_000);
    const closed = events.filter((x) => x.e.type === "closed");
    expect(closed.map((x) => [x.at, (x.e as { reason: string }).reason])).toEqual([[t0 + 20_000, `PUBACK timeout for packet ${id}`]]);
  });

  test("a later publish does not push back the earlier one's PUBACK deadline", () => {
    const rig = makeRig();
    const { c, events } = client(rig, { ackTimeoutMs: 20_000 });
    c.connect(TARGET);
    rig.clock.advance(100);
    c.publish("t", bytes("acked"), 1);
    rig.clock.advance(5_000); // acknowledged
    rig.broker.faults.noPuback = true;
    const t1 = rig.clock.now();
    const id1 = c.publish("t", bytes("a"), 1);
    rig.clock.advance(7_000);
    c.publish("t", bytes("b"), 1);
    rig.clock.advance(60_000);
    const closed = events.filter((x) => x.e.type === "closed");
    expect(closed.map((x) => [x.at, (x.e as { reason: string }).reason])).toEqual([[t1 + 20_000, `PUBACK timeout for packet ${id1}`]]);
  });

  test("an idle link still pings at 3/4 of the keep-alive and is declared dead at 5/4 without an answer", () => {
    const rig = makeRig();
    const { c, events } = client(rig, { keepAliveSec: 40 });
    c.connect(TARGET);
    rig.clock.advance(100);
    const connectedAt = events.find((x) => x.e.type === "connected")!.at;
    rig.broker.faults.noPingresp = true;
    rig.clock.advance(120_000);
    const closed = events.filter((x) => x.e.type === "closed");
    expect(closed).toHaveLength(1);
    expect((closed[0].e as { reason: string }).reason).toMatch(/^keep-alive: no PINGRESP/);
    // Nothing received after the CONNACK: dead at CONNACK + 50 s (5/4 of 40 s), not later.
    expect(closed[0].at).toBeLessThanOrEqual(connectedAt + 50_000);
    expect(closed[0].at).toBeGreaterThanOrEqual(connectedAt + 49_000);
  });
});

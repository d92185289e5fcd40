/** The MQTT client against the virtual broker on the virtual network and clock. */
import { describe, expect, test } from "vitest";
import { encodePublish } from "../../device/core/mqtt/codec";
import { bytes, makeClient, makeRig, TARGET, text } from "./rig";

describe("MqttClient basics", () => {
  test("connects, publishes QoS 0 and 1, gets PUBACK, clears the in-flight window; writes nothing to the KV", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(client.connected).toBe(true);
    expect(of("connected")).toEqual([{ type: "connected", sessionPresent: false }]);
    expect(client.publish("t/a", bytes("zero"), 0)).toBe(0);
    const id = client.publish("t/a", bytes("one"), 1);
    expect(id).toBeGreaterThan(0);
    expect(client.inflightIds()).toEqual([id]);
    rig.clock.advance(100);
    expect(of("acked")).toEqual([{ type: "acked", packetId: id }]);
    expect(client.inflightCount).toBe(0);
    expect(rig.kv.keys()).toEqual([]); // packet ids live in RAM; persistence is the outbox's job
    expect(rig.received.map((r) => [r.topic, text(r.payload), r.qos, r.dup])).toEqual([
      ["t/a", "zero", 0, false],
      ["t/a", "one", 1, false],
    ]);
  });

  test("QoS 1 published offline is stored and sent on connect without DUP", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    const id = client.publish("t/b", bytes("early"), 1);
    expect(client.publish("t/b", bytes("lost"), 0)).toBe(0); // QoS 0 offline is dropped by design
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(rig.received.map((r) => [text(r.payload), r.dup, r.packetId])).toEqual([["early", false, id]]);
    expect(of("acked")).toHaveLength(1);
  });

  test("unacknowledged QoS 1 is resent with DUP only after reconnect, same id", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.broker.faults.noPuback = true;
    const id = client.publish("t/c", bytes("m"), 1);
    rig.clock.advance(20_000); // no resend within a connection
    expect(rig.received.filter((r) => r.packetId === id)).toHaveLength(1);
    rig.broker.faults.noPuback = false;
    rig.net.dropAll();
    rig.clock.advance(100);
    expect(of("closed")).toHaveLength(1);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(rig.received.map((r) => [r.packetId, r.dup])).toEqual([[id, false], [id, true]]);
    expect(of("acked")).toEqual([{ type: "acked", packetId: id }]);
  });

  test("packet ids are unique while in flight, across wrap-around", () => {
    const rig = makeRig(4 * 1024 * 1024);
    const { client } = makeClient(rig);
    const ids = new Set<number>();
    for (let i = 0; i < 200; i++) ids.add(client.publish("t", bytes(String(i)), 1));
    expect(ids.size).toBe(200);
    // Burn ids up to the wrap; only the 200 in-flight ones must be skipped afterwards.
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.broker.faults.noPuback = false;
    for (let i = 0; i < 65_535 - 200; i++) {
      const id = client.publish("u", bytes(""), 1);
      if (ids.has(id)) expect.fail(`id ${id} reused while in flight`);
      if (i % 500 === 0) rig.clock.advance(20); // let PUBACKs drain so the store stays small
    }
    rig.clock.advance(100);
    expect(client.inflightCount).toBe(0);
  });

  test("disconnect sends DISCONNECT (no will), clears timers, is safe twice", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig, { will: { topic: "s", payload: bytes("offline"), qos: 1, retain: true } });
    client.connect(TARGET);
    rig.clock.advance(100);
    client.disconnect();
    client.disconnect();
    rig.clock.advance(1000);
    expect(of("closed")).toEqual([{ type: "closed", reason: "disconnected by client" }]);
    expect(rig.broker.retainedMessage("s")).toBeUndefined();
    expect(rig.clock.pending()).toBe(0);
  });

  test("an event handler that throws does not break the client", () => {
    const rig = makeRig();
    const client = new (makeClient(rig).client.constructor as typeof import("../../device/core/mqtt/client").MqttClient)(
      { clock: rig.clock, network: rig.net, log: rig.log },
      { clientId: "x", keepAliveSec: 30, cleanSession: true },
      () => { throw new Error("app bug"); },
    );
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(client.connected).toBe(true);
    expect(rig.logs.some((l) => l.includes("app bug"))).toBe(true);
  });
});

describe("sessions and subscriptions", () => {
  test("subscribes on connect, gets QoS 1 messages and PUBACKs them; no resubscribe when the session is present", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.subscribe([{ topic: "tether/dev1/config", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("subscribed")).toHaveLength(1);
    rig.broker.publishInternal("tether/dev1/config", bytes("cfg1"), { qos: 1 });
    rig.clock.advance(100);
    expect(of("message").map((m) => [m.topic, text(m.payload), m.qos])).toEqual([["tether/dev1/config", "cfg1", 1]]);
    const info = rig.broker.sessionInfo("dev1")!;
    expect(info.inflight + info.queued).toBe(0); // PUBACKed
    rig.net.dropAll();
    rig.clock.advance(100);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("connected").map((e) => e.sessionPresent)).toEqual([false, true]);
    expect(of("subscribed")).toHaveLength(1);
  });

  test("broker restart losing sessions: client subscribes again", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.subscribe([{ topic: "cmd/#", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.broker.restart({ loseSessions: true });
    rig.clock.advance(100);
    expect(client.connected).toBe(false);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("connected").map((e) => e.sessionPresent)).toEqual([false, false]);
    expect(of("subscribed")).toHaveLength(2);
    rig.broker.publishInternal("cmd/x", bytes("hi"), { qos: 1 });
    rig.clock.advance(100);
    expect(of("message").map((m) => text(m.payload))).toEqual(["hi"]);
  });

  test("a refused subscription is asked for again, with a doubling delay, until granted (nats-server after a node loss)", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig, { cleanSession: true });
    let refusals = 3;
    rig.broker.faults.refuseSubscribe = (f) => f === "tether/dev1/ota/manifest" && refusals-- > 0;
    rig.broker.publishInternal("tether/dev1/ota/manifest", bytes("offer"), { qos: 1, retain: true });
    client.subscribe([{ topic: "tether/dev1/ota/manifest", qos: 1 }, { topic: "tether/dev1/config", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("subscribed").map((e) => e.returnCodes)).toEqual([[0x80, 1]]);
    expect(rig.logs.some((l) => l.includes("subscription to tether/dev1/ota/manifest refused"))).toBe(true);
    // Only the refused filter is asked for again: after 2 s, then 4 s, then 8 s.
    const at: number[] = [];
    for (let t = 0; t < 20_000 && of("message").length === 0; t += 100) {
      const before = of("subscribed").length;
      rig.clock.advance(100);
      if (of("subscribed").length > before) at.push(rig.clock.now());
    }
    expect(of("subscribed").slice(1).map((e) => [e.topics, e.returnCodes])).toEqual([
      [["tether/dev1/ota/manifest"], [0x80]],
      [["tether/dev1/ota/manifest"], [0x80]],
      [["tether/dev1/ota/manifest"], [1]],
    ]);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(4_000);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(8_000);
    expect(of("message").map((m) => [m.topic, text(m.payload), m.retain])).toEqual([["tether/dev1/ota/manifest", "offer", true]]);
    expect(client.connected).toBe(true);
  });

  test("a pending subscription retry ends with the connection; the next connection subscribes at once", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig, { cleanSession: true });
    rig.broker.faults.refuseSubscribe = () => true;
    client.subscribe([{ topic: "c", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    client.disconnect();
    rig.clock.advance(300_000);
    expect(of("subscribed")).toHaveLength(1);
    expect(rig.clock.pending()).toBe(0);
    rig.broker.faults.refuseSubscribe = undefined;
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("subscribed").map((e) => e.returnCodes)).toEqual([[0x80], [1]]);
  });

  test("messages queued in the broker session while offline arrive after reconnect", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.subscribe([{ topic: "c", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    client.disconnect();
    rig.clock.advance(100);
    rig.broker.publishInternal("c", bytes("while away"), { qos: 1 });
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("message").map((m) => text(m.payload))).toEqual(["while away"]);
  });

  test("unsubscribe while offline is sent on the next connection", () => {
    const rig = makeRig();
    const { client } = makeClient(rig);
    client.subscribe([{ topic: "a", qos: 0 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    client.disconnect();
    rig.clock.advance(100);
    client.unsubscribe(["a"]);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(rig.broker.sessionInfo("dev1")!.subscriptions).not.toContain("a");
  });
});

describe("faults", () => {
  test("CONNACK that never comes closes after the timeout", () => {
    const rig = makeRig();
    rig.broker.faults.noConnack = true;
    const { client, of } = makeClient(rig, { connackTimeoutMs: 5000 });
    client.connect(TARGET);
    rig.clock.advance(4000);
    expect(of("closed")).toHaveLength(0);
    rig.clock.advance(1100);
    expect(of("closed")).toEqual([{ type: "closed", reason: "CONNACK timeout" }]);
    expect(client.connected).toBe(false);
  });

  test("a TCP connect that hangs is cut by the same deadline", () => {
    const rig = makeRig();
    rig.net.setDown(true); // SYNs go unanswered
    const { client, of } = makeClient(rig, { connackTimeoutMs: 5000 });
    client.connect(TARGET);
    rig.clock.advance(5100);
    expect(of("closed").map((e) => e.reason)).toEqual(["connect timeout"]);
    rig.clock.advance(20_000);
    expect(of("closed")).toHaveLength(1);
  });

  test("authorisation refusal is reported with its code", () => {
    const rig = makeRig(undefined, {
      authenticate: (_id, username, password) => (username === "u" && password !== undefined && text(password) === "right" ? 0 : 4),
    });
    const { client, of } = makeClient(rig, { username: "u", password: "wrong" });
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("refused")).toEqual([{ type: "refused", code: 4, reason: "bad user name or password" }]);
    expect(of("closed")).toHaveLength(1);
    const ok = makeClient(rig, { clientId: "dev2", username: "u", password: "right" });
    ok.client.connect(TARGET);
    rig.clock.advance(100);
    expect(ok.client.connected).toBe(true);
  });

  test("half-open link (no FIN ever) is detected by receive silence even while publishing", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig, { keepAliveSec: 10 });
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.net.blackholeAll();
    // Keep sending: the send side is never idle, yet the silence from the broker is noticed.
    const start = rig.clock.now();
    let closedAt = -1;
    for (let t = 0; t < 60 && closedAt < 0; t++) {
      client.publish("t", bytes(String(t)), 0);
      rig.clock.advance(500);
      if (of("closed").length > 0) closedAt = rig.clock.now() - start;
    }
    expect(of("closed").map((e) => e.reason)).toEqual([expect.stringMatching(/^keep-alive: no PINGRESP \(nothing received for 125\d\d ms\)$/)]);
    // 1.25 × keep-alive after the last byte received (the CONNACK, just before the black hole), + one step.
    expect(closedAt).toBeGreaterThanOrEqual(12_000);
    expect(closedAt).toBeLessThanOrEqual(13_000);
  });

  test("keep-alive pings keep an idle link up when PINGRESPs come", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig, { keepAliveSec: 5 });
    client.connect(TARGET);
    rig.clock.advance(60_000);
    expect(client.connected).toBe(true);
    expect(of("closed")).toHaveLength(0);
  });

  test("the network dropping in the middle of a packet closes cleanly and nothing acknowledged is lost", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.net.transmitFault = (_link, from, b) => (from === "client" && b.length > 10 ? { deliverBytes: 7, then: "drop" } : undefined);
    const id = client.publish("tether/dev1/telemetry", bytes("0123456789abcdef"), 1);
    rig.clock.advance(100);
    expect(of("closed")).toHaveLength(1);
    expect(rig.received).toHaveLength(0);
    rig.net.transmitFault = undefined;
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(of("acked")).toEqual([{ type: "acked", packetId: id }]);
    expect(rig.received.map((r) => [r.packetId, r.dup])).toEqual([[id, true]]);
  });

  test("incoming data cut mid-packet reports the mid-packet close", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig);
    client.subscribe([{ topic: "c", qos: 1 }]);
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.net.transmitFault = (_l, from) => (from === "server" ? { deliverBytes: 5, then: "drop" } : undefined);
    rig.broker.publishInternal("c", new Uint8Array(100), { qos: 1 });
    rig.clock.advance(100);
    expect(of("closed").map((e) => e.reason)).toEqual(["socket closed: connection reset (mid-packet)"]);
    expect(of("message")).toHaveLength(0);
  });

  test("malformed and oversized packets close the connection with a reason, never throw", () => {
    for (const [garbage, reason] of [
      [Uint8Array.of(0xf0, 0), "malformed: reserved packet type 15"],
      [Uint8Array.of(0x40, 3, 0, 1, 9), "malformed: 1 trailing bytes in PUBACK"],
      // Only a PUBLISH may be skipped when oversized (test/mqtt/oversized.test.ts); anything else closes.
      [Uint8Array.of(0x90, 0xff, 0xff, 0xff, 0x7f), "oversized: remaining length 268435455 > max 1000"],
      [Uint8Array.of(0x90, 0xd0, 0x0f), "oversized: remaining length 2000 > max 1000"],
      [Uint8Array.from([0x32, 0xd0, 0x0f, 0, 1, 0x61, 0, 0, ...new Uint8Array(1995)]), "malformed: packet id 0 in PUBLISH"],
      [Uint8Array.of(0x32, 4, 0, 1, 0x2b, 0, 0), "malformed: wildcard in PUBLISH topic"],
      [Uint8Array.of(0x20, 2, 0, 0), "protocol: unexpected CONNACK from broker"],
    ] as const) {
      const rig = makeRig();
      const { client, of } = makeClient(rig, { maxPacketSize: 1000 });
      client.connect(TARGET);
      rig.clock.advance(100);
      const link = rig.net.openLinks()[0];
      link.server!.write(garbage);
      rig.clock.advance(100);
      expect(of("closed").map((e) => e.reason)).toEqual([reason]);
      expect(client.connected).toBe(false);
    }
  });

  test("a PUBACK that never comes restarts the connection; the resend carries DUP", () => {
    const rig = makeRig();
    const { client, of } = makeClient(rig, { ackTimeoutMs: 20_000 });
    client.connect(TARGET);
    rig.clock.advance(100);
    rig.broker.faults.noPuback = true;
    const id = client.publish("t", bytes("x"), 1);
    rig.clock.advance(19_000);
    expect(client.connected).toBe(true);
    rig.broker.faults.noPuback = false;
    rig.clock.advance(2_000);
    expect(of("closed").map((e) => e.reason)).toEqual([`PUBACK timeout for packet ${id}`]);
    client.connect(TARGET);
    rig.clock.advance(100);
    expect(rig.received.map((r) => [r.packetId, r.dup])).toEqual([[id, false], [id, true]]);
    expect(of("acked")).toHaveLength(1);
  });

  test("a first transmission marked dup (a record from before a reboot) carries DUP, offline or online", () => {
    const rig = makeRig();
    const { client } = makeClient(rig);
    client.publish("tele", bytes("r1"), 1, false, true); // offline: sent on connect
    client.connect(TARGET);
    rig.clock.advance(100);
    client.publish("tele", bytes("r2"), 1, false, true);
    client.publish("tele", bytes("r3"), 1);
    rig.clock.advance(100);
    expect(rig.received.map((r) => `${text(r.payload)}${r.dup ? "+dup" : ""}`)).toEqual(["r1+dup", "r2+dup", "r3"]);
  });

  test("caller errors are clear", () => {
    const rig = makeRig();
    const { client } = makeClient(rig);
    expect(() => client.publish("a/+", bytes(""), 1)).toThrow(/invalid publish topic/);
    expect(() => client.publish("a", new Uint8Array(5000), 2 as 1)).toThrow(/unsupported QoS 2/);
  });
});

// The virtual broker's behaviour under the virtual clock, one case per rule.
import { describe, expect, it } from "vitest";
import { encodeConnect, encodePublish, encodePubrel } from "../../device/core/mqtt/codec";
import { RC_BAD_CREDENTIALS, RC_NOT_AUTHORIZED, type BrokerEvent, type VirtualBrokerOptions } from "../../host-sim/broker/virtual-broker";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";
import { VirtualDriver } from "./drivers";
import { bytes, TestClient, text } from "./test-client";

const FILE = "test/broker/virtual-broker.test.ts";

function rig(options: VirtualBrokerOptions = {}) {
  const d = new VirtualDriver(options);
  const events: BrokerEvent[] = [];
  d.broker.onEvent = (e) => events.push(e);
  const client = () => new TestClient(d).open();
  return { d, broker: d.broker, clock: d.clock, net: d.net, events, client };
}

/** A CONNECT with a chosen protocol name and level (our encoder always writes MQTT/4). */
function rawConnect(name: string, level: number, clientId = "x"): Uint8Array {
  const body = [0, name.length, ...bytes(name), level, 0x02, 0, 60, 0, clientId.length, ...bytes(clientId)];
  return Uint8Array.from([0x10, body.length, ...body]);
}

describe("virtual broker: CONNECT", () => {
  it("refuses an unacceptable protocol level with code 1 and closes", async () => {
    const { client, broker } = rig();
    const c = await client();
    c.sendRaw(rawConnect("MQTT", 5));
    expect(await c.waitPacket("connack")).toEqual({ type: "connack", sessionPresent: false, returnCode: 1 });
    expect(await c.waitClosed()).toBe(true);
    expect(broker.stats.refused).toBe(1);
    expect(broker.stats.connected).toBe(0);
  });

  it("closes without a CONNACK when the protocol name is not MQTT", async () => {
    const { client } = rig();
    const c = await client();
    c.sendRaw(rawConnect("MQTX", 4));
    expect(await c.waitClosed()).toBe(true);
    expect(c.received).toEqual([]);
  });

  it("rejects an empty client id with CleanSession 0 (code 2) and assigns one with CleanSession 1", async () => {
    const { client, events } = rig();
    const a = await client();
    a.sendRaw(Uint8Array.of(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0));
    expect(((await a.waitPacket("connack")) as { returnCode: number }).returnCode).toBe(2);
    const b = await client();
    expect((await b.connect({ clientId: "", cleanSession: true })).returnCode).toBe(0);
    expect(events.at(-1)).toEqual({ type: "connected", clientId: "auto-1", sessionPresent: false });
  });

  it("asks the authenticate hook: 4 bad credentials, 5 not authorised, 0 accepted", async () => {
    const seen: [string, string | undefined, string | undefined][] = [];
    const { client, broker } = rig({
      authenticate: (id, user, pass) => {
        seen.push([id, user, pass && text(pass)]);
        if (user !== "dev") return RC_BAD_CREDENTIALS;
        return pass !== undefined && text(pass) === "secret" ? (id.startsWith("ok") ? 0 : RC_NOT_AUTHORIZED) : RC_BAD_CREDENTIALS;
      },
    });
    const codes: number[] = [];
    for (const [id, user, pass] of [["ok1", "dev", "wrong"], ["no1", "dev", "secret"], ["ok2", "dev", "secret"], ["ok3", undefined, undefined]] as const) {
      const c = await client();
      codes.push((await c.connect({ clientId: id, username: user, password: pass === undefined ? undefined : bytes(pass) })).returnCode);
    }
    expect(codes).toEqual([4, 5, 0, 4]);
    expect(seen[0]).toEqual(["ok1", "dev", "wrong"]);
    expect(broker.stats.connects).toBe(1);
    expect(broker.stats.refused).toBe(3);
  });

  it("answers 3 (server unavailable) when the authenticate hook throws", async () => {
    const { client } = rig({
      authenticate: () => {
        throw new Error("auth backend down");
      },
    });
    const c = await client();
    expect((await c.connect({ clientId: "x" })).returnCode).toBe(3);
    expect(await c.waitClosed()).toBe(true);
  });

  it("closes a connection whose first packet is not CONNECT, and one that never sends CONNECT", async () => {
    const { client, clock } = rig({ connectTimeoutMs: 5000 });
    const a = await client();
    a.send({ type: "pingreq" });
    expect(await a.waitClosed(100)).toBe(true);
    expect(a.received).toEqual([]);
    const b = await client();
    const t0 = clock.now();
    expect(await b.waitClosed(10_000)).toBe(true);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(5000);
  });

  it("treats a second CONNECT as a protocol violation: close and publish the will", async () => {
    const { client } = rig();
    const obs = await client();
    await obs.connect({ clientId: "obs" });
    await obs.subscribe("will", 1);
    const c = await client();
    await c.connect({ clientId: "c", will: { topic: "will", payload: bytes("c-gone"), qos: 1, retain: false } });
    c.sendRaw(encodeConnect({ clientId: "c", keepAlive: 60, cleanSession: true }));
    expect(await c.waitClosed()).toBe(true);
    expect(text((await obs.nextPublish())!.payload)).toBe("c-gone");
  });

  it("takes over a client id: closes the old connection without its will, keeps the session", async () => {
    const { client, broker, events } = rig();
    const obs = await client();
    await obs.connect({ clientId: "obs" });
    await obs.subscribe("will", 1);
    const a = await client();
    await a.connect({ clientId: "dev", cleanSession: false, will: { topic: "will", payload: bytes("old"), qos: 1, retain: false } });
    await a.subscribe("cmd", 1);
    const b = await client();
    expect((await b.connect({ clientId: "dev", cleanSession: false })).sessionPresent).toBe(true);
    expect(await a.waitClosed()).toBe(true);
    expect(await obs.nextPublish(1000)).toBeUndefined();
    expect(broker.stats.takeovers).toBe(1);
    expect(events.filter((e) => e.type === "disconnected")).toEqual([{ type: "disconnected", clientId: "dev", reason: "session taken over", willSent: false }]);
    broker.publishInternal("cmd", bytes("go"), { qos: 1 });
    expect(text((await b.nextPublish())!.payload)).toBe("go");
    expect(broker.stats.connected).toBe(2);
  });
});

describe("virtual broker: keep-alive and wills", () => {
  it("disconnects a silent client at 1.5 x keep-alive and publishes its will, retained if asked", async () => {
    const { client, broker, clock } = rig();
    const obs = await client();
    await obs.connect({ clientId: "obs", keepAlive: 0 });
    await obs.subscribe("status/#", 1);
    const c = await client();
    await c.connect({ clientId: "dev", keepAlive: 10, will: { topic: "status/dev", payload: bytes("offline"), qos: 1, retain: true } });
    const t0 = clock.now();
    await c.ping(); // activity resets the deadline
    const tPing = clock.now();
    expect(await c.waitClosed(14_000)).toBe(false);
    expect(await c.waitClosed(2_000)).toBe(true);
    // Closed at the last byte received + 15 s (plus one link latency for the close to arrive).
    expect(clock.now() - tPing).toBeGreaterThanOrEqual(15_000);
    expect(clock.now() - t0).toBeLessThan(15_000 + 100);
    const m = await obs.nextPublish();
    expect(m && text(m.payload)).toBe("offline");
    expect(m?.retain).toBe(false); // live delivery
    expect(broker.retainedMessage("status/dev")?.payload).toEqual(bytes("offline"));
    expect(broker.stats.keepAliveExpiries).toBe(1);
    expect(broker.stats.willsPublished).toBe(1);
  });

  it("keeps a client that pings, and never expires keep-alive 0", async () => {
    const { client, clock, broker } = rig();
    const a = await client();
    await a.connect({ clientId: "a", keepAlive: 10 });
    const b = await client();
    await b.connect({ clientId: "b", keepAlive: 0 });
    for (let i = 0; i < 30; i++) {
      clock.advance(9_000);
      await a.ping();
    }
    expect(a.closedReason).toBeUndefined();
    clock.advance(24 * 3600_000);
    expect(b.closedReason).toBeUndefined();
    expect(broker.stats.keepAliveExpiries).toBe(1); // a, once it stopped pinging
    expect(a.closedReason).toBeDefined();
  });

  it("publishes the will at once when the network drops the link, and after keep-alive when it goes half-open", async () => {
    const { client, net, clock, broker } = rig();
    const obs = await client();
    await obs.connect({ clientId: "obs" });
    await obs.subscribe("will/+", 1);
    const will = (id: string) => ({ topic: `will/${id}`, payload: bytes(id), qos: 1 as const, retain: false });
    const a = await client();
    await a.connect({ clientId: "a", keepAlive: 20, will: will("a") });
    const link = net.openLinks().at(-1)!;
    link.drop("cable pulled");
    expect((await obs.nextPublish(100))?.topic).toBe("will/a");
    const b = await client();
    await b.connect({ clientId: "b", keepAlive: 20, will: will("b") });
    net.openLinks().at(-1)!.blackholed = true;
    const t0 = clock.now();
    const m = await obs.nextPublish(60_000);
    expect(m?.topic).toBe("will/b");
    expect(clock.now() - t0).toBeGreaterThanOrEqual(30_000 - 20);
    expect(broker.stats.willsPublished).toBe(2);
  });

  it("sends no will after DISCONNECT", async () => {
    const { client, broker } = rig();
    const obs = await client();
    await obs.connect({ clientId: "obs" });
    await obs.subscribe("will", 1);
    const c = await client();
    await c.connect({ clientId: "c", will: { topic: "will", payload: bytes("x"), qos: 1, retain: false } });
    await c.disconnect();
    expect(await obs.nextPublish(60_000)).toBeUndefined();
    expect(broker.stats.willsPublished).toBe(0);
  });
});

describe("virtual broker: delivery", () => {
  it("grants QoS 2 requests as QoS 1", async () => {
    const { client } = rig();
    const c = await client();
    await c.connect({ clientId: "c" });
    expect(await c.subscribe("t", 2)).toEqual([1]);
  });

  it("takes QoS 2 publishes: PUBREC, routes once even when resent, PUBCOMP on PUBREL", async () => {
    const { client, broker } = rig();
    const sub = await client();
    await sub.connect({ clientId: "s" });
    await sub.subscribe("t", 1);
    const p = await client();
    await p.connect({ clientId: "p" });
    p.sendRaw(encodePublish({ topic: "t", payload: bytes("q2"), qos: 2, packetId: 7 }));
    p.sendRaw(encodePublish({ topic: "t", payload: bytes("q2"), qos: 2, packetId: 7, dup: true }));
    await p.waitPacket("pubrec");
    p.sendRaw(encodePubrel(7));
    await p.waitPacket("pubcomp");
    await sub.nextPublish();
    expect(await sub.nextPublish(100)).toBeUndefined();
    expect(sub.publishes()[0].qos).toBe(1);
    expect(broker.stats.published).toBe(1);
  });

  it("keeps at most the in-flight window unacknowledged, in order, and refills it on PUBACK", async () => {
    const { client, broker } = rig({ inflightWindow: 2 });
    const c = await client();
    c.autoAck = false;
    await c.connect({ clientId: "c" });
    await c.subscribe("t", 1);
    for (let i = 0; i < 5; i++) broker.publishInternal("t", bytes(`m${i}`), { qos: 1 });
    await c.driver.sleep(100);
    expect(c.publishes().map((p) => text(p.payload))).toEqual(["m0", "m1"]);
    expect(broker.sessionInfo("c")).toMatchObject({ inflight: 2, queued: 3 });
    c.send({ type: "puback", packetId: c.publishes()[1].packetId! });
    await c.driver.sleep(100);
    expect(c.publishes().map((p) => text(p.payload))).toEqual(["m0", "m1", "m2"]);
    c.autoAck = true;
    for (const p of c.publishes()) if (p.packetId !== c.publishes()[1].packetId) c.send({ type: "puback", packetId: p.packetId! });
    await c.driver.sleep(100);
    expect(c.publishes().map((p) => text(p.payload))).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(broker.sessionInfo("c")).toMatchObject({ inflight: 0, queued: 0 });
    // No packet id was in use twice at once.
    const ids = c.publishes().slice(0, 3).map((p) => p.packetId);
    expect(new Set(ids).size).toBe(3);
  });

  it("bounds an offline session's queue and counts what it drops; QoS 0 is not queued", async () => {
    const { client, broker } = rig({ maxQueued: 3 });
    const c = await client();
    await c.connect({ clientId: "c", cleanSession: false });
    await c.subscribe("t", 1);
    await c.disconnect();
    for (let i = 0; i < 5; i++) broker.publishInternal("t", bytes(`m${i}`), { qos: 1 });
    broker.publishInternal("t", bytes("q0"), { qos: 0 });
    expect(broker.stats.droppedQueueFull).toBe(2);
    const c2 = await client();
    expect((await c2.connect({ clientId: "c", cleanSession: false })).sessionPresent).toBe(true);
    await c2.driver.sleep(100);
    expect(c2.publishes().map((p) => text(p.payload))).toEqual(["m0", "m1", "m2"]);
    expect(c2.publishes().every((p) => !p.dup)).toBe(true); // queued, never sent: no DUP
  });

  it("sends retained messages after the SUBACK with RETAIN set, at min(stored, granted) QoS", async () => {
    const { client, broker } = rig();
    broker.publishInternal("cfg/a", bytes("A"), { qos: 1, retain: true });
    broker.publishInternal("cfg/b", bytes("B"), { qos: 0, retain: true });
    broker.publishInternal("$sys/x", bytes("S"), { qos: 1, retain: true });
    const c = await client();
    await c.connect({ clientId: "c" });
    await c.subscribe("#", 1);
    await c.driver.sleep(50);
    const types = c.received.map((p) => p.type);
    expect(types.indexOf("suback")).toBeLessThan(types.indexOf("publish"));
    expect(c.publishes().map((p) => [p.topic, p.qos, p.retain])).toEqual([
      ["cfg/a", 1, true],
      ["cfg/b", 0, true],
    ]);
    expect(broker.retainedCount).toBe(3);
  });

  it("stops delivering after UNSUBSCRIBE; other sessions are untouched", async () => {
    const { client, broker } = rig();
    const a = await client();
    await a.connect({ clientId: "a" });
    await a.subscribe("t/+", 0);
    const b = await client();
    await b.connect({ clientId: "b" });
    await b.subscribe("t/+", 0);
    await a.unsubscribe("t/+");
    await a.unsubscribe("never/subscribed");
    broker.publishInternal("t/1", bytes("x"));
    expect(await b.nextPublish()).toBeDefined();
    expect(await a.nextPublish(100)).toBeUndefined();
    expect(broker.subscriptionCount).toBe(1);
  });
});

describe("virtual broker: the backend's side", () => {
  it("internal subscribers see client publishes; internal publishes reach clients", async () => {
    const { client, broker } = rig();
    const got: string[] = [];
    const unsub = broker.subscribeInternal("tether/+/telemetry", (topic, payload, qos, retain) => got.push(`${topic} ${text(payload)} q${qos} r${retain}`));
    const dev = await client();
    await dev.connect({ clientId: "d1" });
    await dev.subscribe("tether/d1/config", 1);
    await dev.publish("tether/d1/telemetry", "t1", { qos: 1 });
    await dev.publish("tether/d1/telemetry", "t0", { qos: 0 });
    await dev.driver.sleep(50);
    expect(got).toEqual(["tether/d1/telemetry t1 q1 rfalse", "tether/d1/telemetry t0 q0 rfalse"]);
    expect(broker.publishInternal("tether/d1/config", bytes("cfg"), { qos: 1 })).toBe(true);
    const m = await dev.nextPublish();
    expect([m?.topic, m && text(m.payload), m?.qos]).toEqual(["tether/d1/config", "cfg", 1]);
    unsub();
    await dev.publish("tether/d1/telemetry", "t2", { qos: 1 });
    expect(got.length).toBe(2);
    expect(() => broker.publishInternal("a/+", bytes("x"))).toThrow(/invalid topic/);
    expect(() => broker.subscribeInternal("a/#/b", () => {})).toThrow(/invalid topic filter/);
  });

  it("internal subscribers get matching retained messages on subscribe; onPublish and counters see everything", async () => {
    const { client, broker } = rig();
    const seen: string[] = [];
    broker.onPublish = (topic, _p, qos, retain, from) => seen.push(`${from ?? "internal"} ${topic} ${qos} ${retain}`);
    const dev = await client();
    await dev.connect({ clientId: "d1" });
    await dev.publish("tether/d1/status", "online", { qos: 1, retain: true });
    await dev.publish("tether/d1/telemetry", "x", { qos: 1 });
    await dev.publish("tether/d1/telemetry", "y", { qos: 1 });
    const got: string[] = [];
    broker.subscribeInternal("tether/+/status", (t, p, _q, r) => got.push(`${t} ${text(p)} ${r}`));
    expect(got).toEqual(["tether/d1/status online true"]);
    expect(seen).toEqual(["d1 tether/d1/status 1 true", "d1 tether/d1/telemetry 1 false", "d1 tether/d1/telemetry 1 false"]);
    expect(broker.publishCount("tether/d1/telemetry")).toBe(2);
    expect(broker.stats.published).toBe(3);
    expect(broker.stats.connects).toBe(1);
    expect(broker.stats.bytesIn).toBeGreaterThan(0);
    expect(broker.stats.bytesOut).toBeGreaterThan(0);
  });
});

describe("virtual broker: faults", () => {
  it("stop() refuses connects and drops links; start() brings back sessions and retained messages", async () => {
    const { client, broker } = rig();
    const c = await client();
    await c.connect({ clientId: "c", cleanSession: false, will: { topic: "will", payload: bytes("w"), qos: 1, retain: true } });
    await c.subscribe("cmd", 1);
    broker.publishInternal("keep", bytes("k"), { retain: true });
    broker.stop();
    expect(await c.waitClosed(100)).toBe(true);
    expect(c.closedReason).toBe("broker stopped");
    expect(broker.stats.willsPublished).toBe(0); // not on our own shutdown (unless asked)
    expect(broker.publishInternal("cmd", bytes("x"))).toBe(false);
    const refused = new TestClient(c.driver);
    await refused.open();
    expect(refused.closedReason).toBe("connection refused");
    broker.start();
    const c2 = await client();
    expect((await c2.connect({ clientId: "c", cleanSession: false })).sessionPresent).toBe(true);
    expect(broker.retainedMessage("keep")).toBeDefined();
    expect(broker.stats.connected).toBe(1);
  });

  it("restart({ loseSessions: true }) forgets sessions and retained messages", async () => {
    const { client, broker } = rig();
    const c = await client();
    await c.connect({ clientId: "c", cleanSession: false });
    await c.subscribe("cmd", 1);
    broker.publishInternal("keep", bytes("k"), { retain: true });
    broker.restart({ loseSessions: true });
    expect(await c.waitClosed(100)).toBe(true);
    expect(broker.sessionCount).toBe(0);
    expect(broker.retainedCount).toBe(0);
    expect(broker.subscriptionCount).toBe(0);
    const c2 = await client();
    expect((await c2.connect({ clientId: "c", cleanSession: false })).sessionPresent).toBe(false);
  });

  it("stop({ publishWills: true }) sends the wills of connected clients", async () => {
    const { client, broker } = rig();
    const c = await client();
    await c.connect({ clientId: "c", will: { topic: "status/c", payload: bytes("offline"), qos: 1, retain: true } });
    broker.stop({ publishWills: true });
    expect(broker.retainedMessage("status/c")?.payload).toEqual(bytes("offline"));
  });

  it("fault switches: no CONNACK until the connect timeout, refusal with a chosen code, then normal again", async () => {
    const { client, broker, clock } = rig({ connectTimeoutMs: 30_000 });
    broker.faults.noConnack = true;
    const a = await client();
    await expect(a.connect({ clientId: "a" })).rejects.toThrow(/no connack/);
    expect(a.closedReason).toBeUndefined(); // held open, unanswered
    clock.advance(30_000);
    expect(await a.waitClosed(100)).toBe(true); // the connect timeout still applies
    expect(a.received).toEqual([]);
    broker.faults.noConnack = false;
    broker.faults.refuseCode = RC_NOT_AUTHORIZED;
    const b = await client();
    expect((await b.connect({ clientId: "b" })).returnCode).toBe(RC_NOT_AUTHORIZED);
    expect(await b.waitClosed()).toBe(true);
    broker.faults.refuseCode = 0;
    const c = await client();
    expect((await c.connect({ clientId: "c" })).returnCode).toBe(0);
    expect(broker.stats).toMatchObject({ connectsReceived: 3, refused: 1, connects: 1 });
  });

  it("fault switches: PINGREQ and QoS 1 PUBLISH go unanswered but are still handled; onReceive sees DUPs", async () => {
    const { client, broker } = rig();
    const seen: [string, string, boolean, number | undefined][] = [];
    broker.onReceive = (id, p) => seen.push([id, text(p.payload), p.dup, p.packetId]);
    const routed: string[] = [];
    broker.subscribeInternal("t", (_t, p) => routed.push(text(p)));
    const c = await client();
    await c.connect({ clientId: "c" });
    broker.faults.noPingresp = true;
    broker.faults.noPuback = true;
    await expect(c.ping()).rejects.toThrow(/no PINGRESP/);
    await expect(c.publish("t", "x", { qos: 1 })).rejects.toThrow(/no puback/);
    expect(routed).toEqual(["x"]); // routed, just never acknowledged
    broker.faults.noPingresp = false;
    broker.faults.noPuback = false;
    c.sendRaw(encodePublish({ topic: "t", payload: bytes("x"), qos: 1, dup: true, packetId: 1 }));
    await c.waitPacket("puback");
    await c.ping();
    expect(c.closedReason).toBeUndefined(); // withholding answers never closed the connection
    expect(seen).toEqual([["c", "x", false, 1], ["c", "x", true, 1]]);
  });

  it("PUBACKs and PINGRESPs sent back to back (one chunk in flight behind another) each keep their own bytes", async () => {
    const { client } = rig();
    const c = await client();
    await c.connect({ clientId: "c" });
    const ids = [1, 300, 65535, 2];
    // Everything in one write: the broker answers all of it in the same turn.
    const pubs = ids.map((id) => encodePublish({ topic: "t", payload: bytes(`m${id}`), qos: 1, packetId: id }));
    c.sendRaw(Uint8Array.from([...pubs[0], ...pubs[1], 0xc0, 0, ...pubs[2], ...pubs[3]]));
    await c.waitPacket("puback");
    await c.ping();
    const answers = c.received.filter((p) => p.type === "puback" || p.type === "pingresp");
    expect(answers).toEqual([
      { type: "puback", packetId: 1 },
      { type: "puback", packetId: 300 },
      { type: "pingresp" },
      { type: "puback", packetId: 65535 },
      { type: "puback", packetId: 2 },
      { type: "pingresp" },
    ]);
  });

  it("survives random and mutated input: a bad client is closed with its will, others carry on (randomized)", async () => {
    const seed = testSeed();
    await withSeed(seed, FILE, async () => {
      const r = new SeededRandom(seed);
      const { client, broker, d, events } = rig({ maxPacketSize: 4096 });
      const obs = await client();
      await obs.connect({ clientId: "obs", keepAlive: 0 });
      await obs.subscribe("will/#", 0);
      const valid = [
        encodePublish({ topic: "a/b", payload: bytes("hello"), qos: 1, packetId: 3 }),
        Uint8Array.of(0x82, 6, 0, 1, 0, 1, 0x61, 1),
        Uint8Array.of(0xc0, 0),
        Uint8Array.of(0xa2, 5, 0, 2, 0, 1, 0x61),
      ];
      for (let round = 0; round < 200; round++) {
        const c = await client();
        await c.connect({ clientId: `f${round}`, will: { topic: `will/${round}`, payload: bytes("w"), qos: 0, retain: false } });
        const base = valid[r.below(valid.length)];
        const junk = r.below(3) === 0 ? new Uint8Array(1 + r.below(40)) : base.slice();
        if (junk !== base && r.below(3) === 0) r.fill(junk);
        for (let k = 0; k < 1 + r.below(4); k++) junk[r.below(junk.length)] = r.nextU32() & 0xff;
        c.sendRaw(junk);
        d.run(() => c.closedReason !== undefined, 50);
        c.abort();
        d.run(() => false, 50);
        expect(broker.isConnected(`f${round}`)).toBe(false);
      }
      expect(obs.closedReason).toBeUndefined();
      await obs.ping();
      // Every fuzz client's end is accounted for, with a will unless it (by chance) sent DISCONNECT.
      const ends = events.filter((e) => e.type === "disconnected" && e.clientId.startsWith("f"));
      expect(ends.length).toBe(200);
      for (const e of ends) if (e.type === "disconnected") expect(e.willSent).toBe(e.reason !== "client sent DISCONNECT");
      expect(broker.stats.willsPublished).toBe(ends.filter((e) => e.type === "disconnected" && e.willSent).length);
      expect(broker.stats.willsPublished).toBeGreaterThan(150);
      expect(broker.stats.connected).toBe(1);
    });
  });
});

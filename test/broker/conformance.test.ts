// One behavioural suite, three brokers: our VirtualBroker over the virtual network, aedes
// in-process over TCP, and Debian's Mosquitto over TCP (test/helpers/mosquitto.ts). Where
// aedes and Mosquitto differ, the virtual broker follows Mosquitto; the cases that pin such
// a difference say so and pin aedes's behaviour too, so a change in either shows up here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedBroker } from "../../host-sim/brokers/embedded";
import { TcpDriver, VirtualDriver, type Driver } from "./drivers";
import { startMosquitto } from "../helpers/mosquitto";
import { bytes, TestClient, text } from "./test-client";
import { encodeSubscribe } from "../../device/core/mqtt/codec";

type Kind = "virtual" | "aedes" | "mosquitto";

let run = 0;
/** Topics and client ids unique per case: the TCP brokers live for the whole file. */
const uid = () => `conf${process.pid}x${++run}`;

function suite(kind: Kind, make: () => Promise<Driver>) {
  describe(`broker conformance: ${kind}`, () => {
    let driver: Driver;
    beforeAll(async () => {
      driver = await make();
    });
    afterAll(async () => {
      await driver?.dispose();
    });
    const client = () => new TestClient(driver).open();
    /**
     * What `sub` received before a sentinel that `pub` publishes on `topic` (which `sub` also
     * matches) arrives: brokers keep one publisher's order, so nothing earlier can still be on
     * its way — "nothing more arrived" is then exact, not a guess after a fixed wait.
     */
    const upToSentinel = async (pub: TestClient, sub: TestClient, topic: string) => {
      await pub.publish(topic, "sentinel", { qos: 1 });
      const isSentinel = (p: { topic: string; payload: Uint8Array }) => p.topic === topic && text(p.payload) === "sentinel";
      await driver.waitFor(() => sub.publishes().some(isSentinel), 2000);
      const all = sub.publishes();
      return all.slice(0, all.findIndex(isSentinel));
    };

    it("delivers a retained message on subscribe with RETAIN set; replaces it; an empty payload deletes it", async () => {
      const u = uid();
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      await pub.publish(`${u}/status`, "one", { qos: 1, retain: true });
      await pub.publish(`${u}/status`, "two", { qos: 1, retain: true });
      const a = await client();
      await a.connect({ clientId: `${u}a` });
      await a.subscribe(`${u}/+`, 1);
      const m = await a.nextPublish();
      expect(m && text(m.payload)).toBe("two");
      expect(m?.retain).toBe(true);
      expect(m?.qos).toBe(1);
      expect(await a.nextPublish(300)).toBeUndefined();
      // Live delivery of a retained publish carries RETAIN 0 (§3.3.1-9).
      await pub.publish(`${u}/status`, "three", { qos: 1, retain: true });
      const live = await a.nextPublish();
      expect(live && text(live.payload)).toBe("three");
      expect(live?.retain).toBe(false);
      await pub.publish(`${u}/status`, "", { qos: 1, retain: true });
      await a.nextPublish(); // the empty publish itself is forwarded
      const b = await client();
      await b.connect({ clientId: `${u}b` });
      await b.subscribe(`${u}/#`, 1);
      expect(await b.nextPublish(300)).toBeUndefined();
      await Promise.all([pub.disconnect(), a.disconnect(), b.disconnect()]);
    });

    it("matches + and # filters, and not $ topics with a first-level wildcard", async () => {
      const u = uid();
      const s = await client();
      await s.connect({ clientId: `${u}s` });
      await s.subscribe(`${u}/+/t`, 0);
      await s.subscribe(`${u}/a/#`, 0);
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      for (const t of [`${u}/x/t`, `${u}/a`, `${u}/a/b/c`, `${u}/x/y/t`, `${u}/b`]) await pub.publish(t, t, { qos: 1 });
      expect((await upToSentinel(pub, s, `${u}/a/end`)).map((p) => p.topic)).toEqual([`${u}/x/t`, `${u}/a`, `${u}/a/b/c`]);
      const w = await client();
      await w.connect({ clientId: `${u}w` });
      await w.subscribe(`+/${u}/x`, 0);
      await w.subscribe(`$${u}/#`, 0);
      await pub.publish(`$${u}/${u}/x`, "dollar", { qos: 1 });
      await pub.publish(`n${u}/${u}/x`, "plain", { qos: 1 });
      expect((await upToSentinel(pub, w, `s${u}/${u}/x`)).map((p) => p.topic).sort()).toEqual([`$${u}/${u}/x`, `n${u}/${u}/x`]);
      await Promise.all([s.disconnect(), pub.disconnect(), w.disconnect()]);
    });

    it("delivers QoS 1 with a packet id, at min(publish, subscription) QoS, and PUBACKs the publisher", async () => {
      const u = uid();
      const one = await client();
      await one.connect({ clientId: `${u}1` });
      expect(await one.subscribe(`${u}/t`, 1)).toEqual([1]);
      const zero = await client();
      await zero.connect({ clientId: `${u}0` });
      expect(await zero.subscribe(`${u}/t`, 0)).toEqual([0]);
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      await pub.publish(`${u}/t`, "hello", { qos: 1 }); // resolves on PUBACK
      const m1 = await one.nextPublish();
      expect(m1?.qos).toBe(1);
      expect(m1?.packetId).toBeGreaterThan(0);
      expect(m1?.dup).toBe(false);
      const m0 = await zero.nextPublish();
      expect(m0?.qos).toBe(0);
      expect(m0?.packetId).toBeUndefined();
      await pub.publish(`${u}/t`, "q0", { qos: 0 });
      expect((await one.nextPublish())?.qos).toBe(0);
      await Promise.all([one.disconnect(), zero.disconnect(), pub.disconnect()]);
    });

    it("keeps a persistent session's subscriptions and queued QoS 1 messages, with Session Present", async () => {
      const u = uid();
      const a = await client();
      expect((await a.connect({ clientId: `${u}a`, cleanSession: false })).sessionPresent).toBe(false);
      await a.subscribe(`${u}/t`, 1);
      await a.disconnect();
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      for (const n of ["m1", "m2", "m3"]) await pub.publish(`${u}/t`, n, { qos: 1 });
      await pub.publish(`${u}/t`, "q0-lost", { qos: 0 });
      const a2 = await client();
      const ack = await a2.connect({ clientId: `${u}a`, cleanSession: false });
      expect(ack).toEqual({ type: "connack", sessionPresent: true, returnCode: 0 });
      await driver.waitFor(() => a2.publishes().length >= 3, 2000);
      await pub.publish(`${u}/t`, "m4", { qos: 1 }); // the subscription is still there
      const got = await upToSentinel(pub, a2, `${u}/t`);
      expect(got.map((p) => text(p.payload))).toEqual(["m1", "m2", "m3", "m4"]);
      expect(got.every((p) => p.qos === 1)).toBe(true);
      await a2.disconnect();
      // A clean connect discards it.
      const a3 = await client();
      expect((await a3.connect({ clientId: `${u}a`, cleanSession: true })).sessionPresent).toBe(false);
      await a3.disconnect();
      const a4 = await client();
      expect((await a4.connect({ clientId: `${u}a`, cleanSession: false })).sessionPresent).toBe(false);
      await Promise.all([a4.disconnect(), pub.disconnect()]);
    });

    it("a clean session keeps nothing across a reconnect", async () => {
      const u = uid();
      const a = await client();
      await a.connect({ clientId: `${u}a`, cleanSession: true });
      await a.subscribe(`${u}/t`, 1);
      await a.disconnect();
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      await pub.publish(`${u}/t`, "while-away", { qos: 1 });
      const a2 = await client();
      expect((await a2.connect({ clientId: `${u}a`, cleanSession: true })).sessionPresent).toBe(false);
      await pub.publish(`${u}/t`, "after", { qos: 1 });
      expect(await a2.nextPublish(300)).toBeUndefined();
      await Promise.all([a2.disconnect(), pub.disconnect()]);
    });

    it("redelivers an unacknowledged QoS 1 message with DUP after a reconnect", async () => {
      const u = uid();
      const a = await client();
      a.autoAck = false;
      await a.connect({ clientId: `${u}a`, cleanSession: false });
      await a.subscribe(`${u}/t`, 1);
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      await pub.publish(`${u}/t`, "unacked", { qos: 1 });
      const first = await a.nextPublish();
      expect(first?.dup).toBe(false);
      a.abort();
      await driver.sleep(50);
      const a2 = await client();
      expect((await a2.connect({ clientId: `${u}a`, cleanSession: false })).sessionPresent).toBe(true);
      const again = await a2.nextPublish();
      expect(again && text(again.payload)).toBe("unacked");
      // Difference: aedes 1.2 resends without DUP; Mosquitto sets it (§3.3.1-1), and so do we.
      expect(again?.dup).toBe(kind !== "aedes");
      expect(again?.packetId).toBe(first?.packetId);
      await a2.disconnect();
      const a3 = await client();
      await a3.connect({ clientId: `${u}a`, cleanSession: false });
      expect(await a3.nextPublish(300)).toBeUndefined(); // acked now
      await Promise.all([a3.disconnect(), pub.disconnect()]);
    });

    it("publishes the Last Will on an abrupt close, not after DISCONNECT", async () => {
      const u = uid();
      const obs = await client();
      await obs.connect({ clientId: `${u}o` });
      await obs.subscribe(`${u}/will/#`, 1);
      const d = await client();
      await d.connect({ clientId: `${u}d`, will: { topic: `${u}/will/d`, payload: bytes("gone-d"), qos: 1, retain: false } });
      await d.disconnect();
      const e = await client();
      await e.connect({ clientId: `${u}e`, will: { topic: `${u}/will/e`, payload: bytes("gone-e"), qos: 1, retain: false } });
      e.abort();
      const m = await obs.nextPublish();
      expect(m?.topic).toBe(`${u}/will/e`);
      expect(text(m!.payload)).toBe("gone-e");
      expect(m?.qos).toBe(1);
      expect(await obs.nextPublish(300)).toBeUndefined();
      await obs.disconnect();
    });

    it("stores a retained Last Will", async () => {
      const u = uid();
      const e = await client();
      await e.connect({ clientId: `${u}e`, will: { topic: `${u}/status`, payload: bytes("offline"), qos: 1, retain: true } });
      await e.publish(`${u}/status`, "online", { qos: 1, retain: true });
      e.abort();
      await driver.sleep(100);
      const late = await client();
      await late.connect({ clientId: `${u}l` });
      await late.subscribe(`${u}/status`, 1);
      const m = await late.nextPublish();
      expect(m && text(m.payload)).toBe("offline");
      expect(m?.retain).toBe(true);
      await late.disconnect();
    });

    it("publishes the Last Will when keep-alive expires", async () => {
      const u = uid();
      const obs = await client();
      await obs.connect({ clientId: `${u}o` });
      await obs.subscribe(`${u}/will`, 1);
      const silent = await client();
      await silent.connect({ clientId: `${u}s`, keepAlive: 1, will: { topic: `${u}/will`, payload: bytes("silent"), qos: 1, retain: false } });
      const m = await obs.nextPublish(4000);
      expect(m && text(m.payload)).toBe("silent");
      expect(await silent.waitClosed(1000)).toBe(true);
      await obs.disconnect();
    });

    it("takes over a client id: the first connection is closed; Mosquitto sends no will for it", async () => {
      const u = uid();
      const obs = await client();
      await obs.connect({ clientId: `${u}o` });
      await obs.subscribe(`${u}/will`, 1);
      const first = await client();
      await first.connect({ clientId: `${u}x`, cleanSession: false, will: { topic: `${u}/will`, payload: bytes("first"), qos: 1, retain: false } });
      await first.subscribe(`${u}/t`, 1);
      const second = await client();
      expect((await second.connect({ clientId: `${u}x`, cleanSession: false })).sessionPresent).toBe(true);
      expect(await first.waitClosed()).toBe(true);
      const m = await obs.nextPublish(1000);
      // Difference: aedes publishes the old connection's will on takeover; Mosquitto 2.0 does not.
      expect(m && text(m.payload)).toBe(kind === "aedes" ? "first" : undefined);
      await Promise.all([obs.disconnect(), second.disconnect()]);
    });

    it("closes a client that sends a malformed packet, and publishes its will", async () => {
      const u = uid();
      const obs = await client();
      await obs.connect({ clientId: `${u}o` });
      await obs.subscribe(`${u}/will`, 1);
      const bad = await client();
      await bad.connect({ clientId: `${u}b`, will: { topic: `${u}/will`, payload: bytes("bad"), qos: 1, retain: false } });
      bad.sendRaw(Uint8Array.of(0x32, 0x03, 0x00, 0x05, 0x61)); // PUBLISH QoS 1 whose topic overruns the packet
      expect(await bad.waitClosed()).toBe(true);
      const m = await obs.nextPublish(1000);
      expect(m && text(m.payload)).toBe("bad");
      await obs.disconnect();
    });

    it("refuses an empty client id with CleanSession 0 (identifier rejected)", async () => {
      const c = await client();
      c.sendRaw(Uint8Array.of(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0));
      const ack = (await c.waitPacket("connack")) as { returnCode: number };
      // Difference: aedes accepts it (and invents an id); Mosquitto follows §3.1.3-8.
      if (kind === "aedes") return expect(ack.returnCode).toBe(0);
      expect(ack.returnCode).toBe(2);
      expect(await c.waitClosed()).toBe(true);
    });

    it("closes a client that subscribes to an invalid filter (no SUBACK 0x80), with its will", async () => {
      const u = uid();
      const obs = await client();
      await obs.connect({ clientId: `${u}o` });
      await obs.subscribe(`${u}/will`, 1);
      const bad = await client();
      await bad.connect({ clientId: `${u}b`, will: { topic: `${u}/will`, payload: bytes("bad-filter"), qos: 1, retain: false } });
      bad.sendRaw(encodeSubscribe(9, [{ topic: `${u}/#/x`, qos: 1 }]));
      expect(await bad.waitClosed()).toBe(true);
      expect(bad.received.map((p) => p.type)).toEqual(["connack"]);
      const m = await obs.nextPublish(1000);
      expect(m && text(m.payload)).toBe("bad-filter");
      await obs.disconnect();
    });

    // §3.3.5 asks for the maximum QoS of the overlapping filters; Mosquitto 2.0 and aedes both
    // deliver once at the QoS of the first filter in their search order (exact before `#`).
    it("delivers once to overlapping subscriptions, at the QoS of the first match (exact before #)", async () => {
      const u = uid();
      const a = await client();
      await a.connect({ clientId: `${u}a` });
      await a.subscribe(`${u}/t`, 0);
      await a.subscribe(`${u}/#`, 1);
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      await pub.publish(`${u}/t`, "x", { qos: 1 });
      expect((await upToSentinel(pub, a, `${u}/end`)).map((p) => p.qos)).toEqual([0]);
      const b = await client();
      await b.connect({ clientId: `${u}b` });
      await b.subscribe(`${u}/#`, 0);
      await b.subscribe(`${u}/+`, 1);
      await pub.publish(`${u}/t`, "y", { qos: 1 });
      // Mosquitto searches + before #; aedes picks # here (its order differs, not pinned by the spec).
      expect((await upToSentinel(pub, b, `${u}/end`)).map((p) => p.qos)).toEqual(kind === "aedes" ? [0] : [1]);
      await Promise.all([a.disconnect(), b.disconnect(), pub.disconnect()]);
    });

    it("answers PINGREQ with PINGRESP and UNSUBSCRIBE with UNSUBACK (then stops delivering)", async () => {
      const u = uid();
      const a = await client();
      await a.connect({ clientId: `${u}a` });
      await a.ping();
      await a.subscribe(`${u}/t`, 1);
      await a.unsubscribe(`${u}/t`);
      const pub = await client();
      await pub.connect({ clientId: `${u}p` });
      await pub.publish(`${u}/t`, "x", { qos: 1 });
      expect(await a.nextPublish(300)).toBeUndefined();
      await Promise.all([a.disconnect(), pub.disconnect()]);
    });
  });
}

suite("virtual", async () => new VirtualDriver());
suite("aedes", async () => {
  const b = await startEmbeddedBroker({ port: 0 });
  return new TcpDriver("aedes", b.host, b.port, () => b.close());
});
// Needs Debian's mosquitto (scripts/ensure-debian-packages.sh); the helper fails with that hint.
suite("mosquitto", async () => {
  const m = await startMosquitto();
  return new TcpDriver("mosquitto", m.host, m.port, () => m.stop());
});

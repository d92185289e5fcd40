/**
 * The link under faults, in virtual time: in every case nothing the device accepted is lost
 * (unless counted as dropped by a full queue), first arrivals are in order, and duplicates
 * carry the same sequence number.
 */
import { describe, expect, test } from "vitest";
import { BROKER, VirtualDevice, delivery, makeWorld, type World } from "./world";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/link/faults.test.ts";
const MIN = 60_000;

/** Lets the device settle and empties its outbox. */
function settle(w: World, dev: VirtualDevice, maxMs = 20 * MIN): void {
  dev.stopTelemetry();
  const until = w.clock.now() + maxMs;
  while (w.clock.now() < until && (dev.link.outbox.length > 0 || dev.link.client.inflightCount > 0 || !dev.link.client.connected)) {
    w.clock.advance(1000);
  }
}

function expectNoLoss(dev: VirtualDevice, opts: { allowDrops?: boolean } = {}) {
  const d = delivery(dev);
  if (!opts.allowDrops) expect(d.dropped).toBe(0);
  // Every record not delivered is accounted for by the dropped counter, exactly.
  expect(d.missing.length).toBe(d.dropped);
  expect(d.inOrder).toBe(true);
  expect(d.accepted).toBeGreaterThan(5);
  expect(dev.link.outbox.length).toBe(0);
  expect(dev.link.client.inflightCount).toBe(0);
  return d;
}

function scenario(name: string, fn: (w: World) => void) {
  test(name, () => {
    const seed = testSeed();
    withSeed(seed, FILE, () => fn(makeWorld(seed)));
  });
}

describe("link faults (virtual clock)", () => {
  scenario("normal run: everything delivered once, status online, will set", (w) => {
    const dev = new VirtualDevice(w, "d1");
    w.clock.advance(5 * MIN);
    settle(w, dev);
    const d = expectNoLoss(dev);
    expect(d.duplicates).toBe(0);
    expect(w.broker.retainedMessage("tether/d1/status")?.payload).toEqual(new TextEncoder().encode("online"));
    expect(dev.link.stats()).toMatchObject({ state: "online", reconnects: 0, queued: 0, dropped: 0 });
    // A crash (no DISCONNECT) makes the broker publish the retained will.
    dev.powerCut();
    w.net.dropAll();
    w.clock.advance(1000);
    expect(new TextDecoder().decode(w.broker.retainedMessage("tether/d1/status")!.payload)).toBe("offline");
  });

  scenario("graceful stop publishes retained offline and clears every timer", (w) => {
    const dev = new VirtualDevice(w, "d1", {}, 0);
    w.clock.advance(MIN);
    dev.link.stop();
    dev.link.stop();
    w.clock.advance(1000);
    expect(new TextDecoder().decode(w.broker.retainedMessage("tether/d1/status")!.payload)).toBe("offline");
    expect(dev.link.state).toBe("offline");
    expect(w.clock.pending()).toBe(0);
  });

  scenario("broker restarts and loses its sessions: reconnect, resubscribe, nothing lost", (w) => {
    const dev = new VirtualDevice(w, "d1");
    dev.link.subscribe([{ topic: "tether/d1/config", qos: 1 }]);
    w.clock.advance(2 * MIN);
    w.broker.restart({ loseSessions: true });
    w.clock.advance(2 * MIN);
    expect(dev.link.state).toBe("online");
    w.broker.publishInternal("tether/d1/config", new Uint8Array([1]), { qos: 1 });
    w.clock.advance(1000);
    expect(dev.events.filter((x) => x.e.type === "message")).toHaveLength(1);
    settle(w, dev);
    expectNoLoss(dev);
    expect(dev.link.stats().reconnects).toBe(1);
  });

  scenario("half-open TCP (no FIN): keep-alive notices, reconnects, nothing lost", (w) => {
    const dev = new VirtualDevice(w, "d1");
    w.clock.advance(2 * MIN);
    const cutAt = w.clock.now();
    w.net.blackholeAll();
    w.clock.advance(3 * MIN);
    const offline = dev.events.find((x) => x.at >= cutAt && x.e.type === "state" && x.e.state === "backoff");
    expect(offline).toBeDefined();
    // Detected within 1.25 × keep-alive (30 s) of receive silence.
    expect(offline!.at - cutAt).toBeLessThanOrEqual(37_500);
    // With telemetry flowing, the PUBACK timeout (30 s) may notice first; idle, the keep-alive does.
    expect(offline!.e.type === "state" && offline!.e.detail).toMatch(/^(keep-alive: no PINGRESP \(nothing received for \d+ ms\)|PUBACK timeout for packet \d+)$/);
    settle(w, dev);
    const d = expectNoLoss(dev);
    expect(d.dupFlagged).toBeGreaterThan(0); // the PUBLISHes lost in the hole were resent with DUP
  });

  scenario("half-open TCP on an idle device: the keep-alive notices", (w) => {
    const dev = new VirtualDevice(w, "d1", {}, 0);
    w.clock.advance(2 * MIN);
    const cutAt = w.clock.now();
    w.net.blackholeAll();
    w.clock.advance(2 * MIN);
    const offline = dev.events.find((x) => x.at >= cutAt && x.e.type === "state" && x.e.state === "backoff");
    expect(offline?.e.type === "state" && offline.e.detail).toMatch(/^keep-alive: no PINGRESP \(nothing received for 375\d\d ms\)$/);
    expect(offline!.at - cutAt).toBeLessThanOrEqual(37_500);
    expect(dev.link.state).toBe("online");
  });

  scenario("CONNACK never comes: attempts time out and back off, then recover", (w) => {
    const dev = new VirtualDevice(w, "d1", { connackTimeoutMs: 5000 });
    w.clock.advance(2 * MIN);
    w.broker.faults.noConnack = true;
    w.net.dropAll();
    w.clock.advance(5 * MIN);
    const timeouts = dev.events.filter((x) => x.e.type === "state" && x.e.detail === "CONNACK timeout");
    expect(timeouts.length).toBeGreaterThanOrEqual(3);
    expect(dev.link.snapshot.attempt).toBeGreaterThanOrEqual(3);
    w.broker.faults.noConnack = false;
    settle(w, dev);
    expectNoLoss(dev);
  });

  scenario("authorisation refusal: long backoff, not a tight loop; recovers when allowed", (w) => {
    w.broker.faults.refuseCode = 5;
    const dev = new VirtualDevice(w, "d1", { queueCapacity: 200, queueMaxBytes: 16_000 });
    w.clock.advance(60 * MIN);
    // Power-on, then refusals spaced by at least refusedMinMs (15 min): at most 4 CONNECTs in an hour.
    expect(w.broker.stats.connectsReceived).toBeGreaterThanOrEqual(2);
    expect(w.broker.stats.connectsReceived).toBeLessThanOrEqual(4);
    w.broker.faults.refuseCode = 0;
    settle(w, dev, 40 * MIN);
    // An hour offline at one record per 10 s overflows the queue: the oldest go, counted.
    const d = expectNoLoss(dev, { allowDrops: true });
    expect(d.dropped).toBeGreaterThan(0);
    expect(dev.link.stats().dropped).toBe(d.dropped);
  });

  scenario("the network drops in the middle of a PUBLISH: resent after reconnect", (w) => {
    const dev = new VirtualDevice(w, "d1");
    w.clock.advance(2 * MIN);
    let cuts = 0;
    w.net.transmitFault = (_l, from, b) => (from === "client" && b[0] >> 4 === 3 && b.length > 20 && cuts++ < 3 ? { deliverBytes: 9, then: "drop" } : undefined);
    w.clock.advance(5 * MIN);
    expect(cuts).toBeGreaterThanOrEqual(3);
    settle(w, dev);
    expectNoLoss(dev);
  });

  scenario("reboot with QoS 1 in flight: resent with DUP after the reboot, nothing lost", (w) => {
    const dev = new VirtualDevice(w, "d1");
    w.clock.advance(2 * MIN);
    w.broker.faults.noPuback = true; // PUBACKs stop: records pile up in flight and in the outbox
    w.clock.advance(MIN);
    expect(dev.link.client.inflightCount).toBeGreaterThan(0);
    dev.powerCut();
    w.clock.advance(5000);
    w.broker.faults.noPuback = false;
    dev.boot();
    expect(dev.link.outbox.length).toBeGreaterThan(0); // reloaded from the KV (the outbox)
    w.clock.advance(2 * MIN);
    settle(w, dev);
    const d = expectNoLoss(dev);
    expect(d.duplicates).toBeGreaterThan(0);
    expect(d.dupFlagged).toBeGreaterThan(0);
  });

  scenario("PUBACKs lost while the connection stays up: ack timeout, reconnect, resend, nothing stuck", (w) => {
    const dev = new VirtualDevice(w, "d1");
    w.clock.advance(2 * MIN);
    w.broker.faults.noPuback = true;
    w.clock.advance(MIN);
    w.broker.faults.noPuback = false;
    w.clock.advance(3 * MIN);
    expect(dev.events.some((x) => x.e.type === "state" && /PUBACK timeout/.test(x.e.detail))).toBe(true);
    settle(w, dev);
    const d = expectNoLoss(dev);
    expect(d.dupFlagged).toBeGreaterThan(0);
  });

  scenario("power cut at random moments across many reboots: nothing accepted is lost", (w) => {
    const dev = new VirtualDevice(w, "d1", {}, 3000);
    for (let i = 0; i < 15; i++) {
      w.clock.advance(5000 + w.random.below(60_000));
      dev.powerCut();
      if (w.random.below(2)) w.net.dropAll();
      w.clock.advance(w.random.below(5000));
      dev.boot();
    }
    w.clock.advance(MIN);
    settle(w, dev);
    expectNoLoss(dev);
  });

  scenario("fails over to the second broker when the first is unreachable", (w) => {
    const dev = new VirtualDevice(w, "d1", { brokers: [{ host: "nobody", port: 1883 }, BROKER] });
    w.clock.advance(3 * MIN);
    expect(dev.link.state).toBe("online");
    expect(dev.link.snapshot.broker).toBe(1);
    settle(w, dev);
    expectNoLoss(dev);
  });
});

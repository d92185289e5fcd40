/**
 * Dead-link detection and MQTT-3.1.2-23 over every keep-alive from 2 s to 20 min, under the
 * virtual clock against the virtual broker: while the link lives, the client never goes a
 * keep-alive without sending and is never closed; once the link goes half-open (bytes vanish,
 * nobody is told), the client closes within 1.5 × keep-alive, and keeps sending on time
 * while it waits. Before, it waited keep-alive + a fixed 10 s and sent nothing meanwhile.
 * The same check against real Mosquitto is in keepalive-mosquitto.test.ts.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { MqttClient, type MqttEvent } from "../../device/core/mqtt/client";
import { deadAfterMs, keepAliveStep } from "../../device/core/mqtt/keepalive";
import type { Network } from "../../device/ports";
import { testSeed, withSeed } from "../helpers/seed";
import { bytes, makeRig, TARGET } from "./rig";

const FILE = "test/mqtt/keepalive.test.ts";
const MIN_KA_S = 2;
const MAX_KA_S = 20 * 60;

/** A network that notes when the client wrote anything (even into a black hole). */
function recording(inner: Network, now: () => number) {
  const writes: number[] = [];
  const network: Network = {
    connect(o, h) {
      const s = inner.connect(o, h);
      return {
        write(b: Uint8Array) {
          writes.push(now());
          return s.write(b);
        },
        close: () => s.close(),
      } as ReturnType<Network["connect"]>;
    },
  };
  return { network, writes };
}

describe("keep-alive and dead-link detection", () => {
  test("detected within 1.5 × keep-alive, never a send gap over the keep-alive: 2 s … 20 min (property)", () => {
    const seed = testSeed(1_200);
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(
          fc.record({
            kaSec: fc.oneof(fc.constantFrom(MIN_KA_S, 3, 5, 7, MAX_KA_S), fc.integer({ min: MIN_KA_S, max: MAX_KA_S })),
            publishEveryMs: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 3_000_000 })),
            lifeHundredths: fc.integer({ min: 0, max: 500 }),
          }),
          (c) => {
            const rig = makeRig();
            const ka = c.kaSec * 1000;
            const rec = recording(rig.net, () => rig.clock.now());
            const events: MqttEvent[] = [];
            const client = new MqttClient({ clock: rig.clock, network: rec.network, log: rig.log }, { clientId: "ka", keepAliveSec: c.kaSec, cleanSession: true }, (e) => events.push(e));
            client.connect(TARGET);
            rig.clock.advance(50);
            expect(client.connected).toBe(true);
            let closedAt = -1;
            const publishLoop = () => {
              if (!client.connected) return;
              client.publish("t", bytes("x"), 0);
              rig.clock.setTimeout(publishLoop, c.publishEveryMs);
            };
            if (c.publishEveryMs > 0) rig.clock.setTimeout(publishLoop, c.publishEveryMs);
            rig.clock.advance(Math.round((ka * c.lifeHundredths) / 100));
            expect(events.filter((e) => e.type === "closed"), "closed while the link was alive").toEqual([]);
            const diedAt = rig.clock.now();
            rig.net.blackholeAll();
            // Step in small increments to see when the close happens.
            const step = Math.max(10, Math.floor(ka / 100));
            while (closedAt < 0 && rig.clock.now() - diedAt <= 2 * ka) {
              rig.clock.advance(step);
              if (events.some((e) => e.type === "closed")) closedAt = rig.clock.now();
            }
            expect(closedAt, "half-open link not detected").toBeGreaterThan(0);
            expect(closedAt - diedAt, `detected after ${closedAt - diedAt} ms`).toBeLessThanOrEqual(1.5 * ka);
            const reason = (events.find((e) => e.type === "closed") as Extract<MqttEvent, { type: "closed" }>).reason;
            expect(reason).toMatch(/^keep-alive: no PINGRESP/);
            let worst = 0;
            for (let i = 1; i < rec.writes.length; i++) worst = Math.max(worst, rec.writes[i] - rec.writes[i - 1]);
            expect(worst, "send gap over the keep-alive").toBeLessThanOrEqual(ka);
          },
        ),
        { seed, numRuns: 100 },
      ),
    );
  });

  test("the decision function: ping on send or receive silence, dead after 1.25 × keep-alive of receive silence", () => {
    const ka = 4000;
    expect(keepAliveStep(0, { lastSent: 0, lastReceived: 0, lastPing: undefined }, ka)).toEqual({ action: "wait", nextAt: 3000 });
    expect(keepAliveStep(3000, { lastSent: 0, lastReceived: 0, lastPing: undefined }, ka)).toEqual({ action: "ping" });
    // Sending all the time does not hide receive silence.
    expect(keepAliveStep(3000, { lastSent: 2999, lastReceived: 0, lastPing: undefined }, ka)).toEqual({ action: "ping" });
    // A ping awaiting its answer: the send side still pings on time, the close comes at 5000.
    expect(keepAliveStep(3001, { lastSent: 3000, lastReceived: 0, lastPing: 3000 }, ka)).toEqual({ action: "wait", nextAt: 5000 });
    expect(keepAliveStep(5000, { lastSent: 3000, lastReceived: 0, lastPing: 3000 }, ka)).toEqual({ action: "dead", silentMs: 5000 });
    expect(keepAliveStep(6000, { lastSent: 6000, lastReceived: 5500, lastPing: 3000 }, ka)).toEqual({ action: "wait", nextAt: 8500 });
  });
});

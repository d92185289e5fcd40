/**
 * Dead-link detection against a real Mosquitto, through a loopback TCP proxy that can turn
 * half-open (it keeps both sockets open and forwards nothing). Keep-alive 2 s, the smallest
 * the project supports: the broker must never drop the client for silence while the link
 * lives (MQTT-3.1.2-23 seen from the broker's side: Mosquitto closes a client after 1.5 ×
 * keep-alive without a packet), and the client must close a half-open link within 3 s.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MqttClient, type MqttEvent } from "../../device/core/mqtt/client";
import { NodeClock } from "../../device/platform/node/clock";
import { nodeNetwork } from "../../device/platform/node/network";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";

const KA_SEC = 2;

function halfOpenProxy(target: { host: string; port: number }) {
  let dead = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(target.port, target.host);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    down.on("data", (b) => dead || up.write(b));
    up.on("data", (b) => dead || down.write(b));
    down.on("close", () => up.destroy());
    up.on("close", () => down.destroy());
  });
  return {
    listen: () => new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port))),
    goHalfOpen: () => (dead = true),
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe("keep-alive against Mosquitto", () => {
  let mq: Mosquitto;
  beforeAll(async () => {
    mq = await startMosquitto();
  });
  afterAll(async () => {
    await mq?.stop();
  });

  test(`keep-alive ${KA_SEC} s: idle link kept for 4 keep-alives, half-open link closed within 1.5 × keep-alive`, async () => {
    const proxy = halfOpenProxy(mq);
    const port = await proxy.listen();
    const clock = new NodeClock();
    const events: { at: number; e: MqttEvent }[] = [];
    const client = new MqttClient(
      { clock, network: nodeNetwork, log: () => {} },
      { clientId: "ka-real", keepAliveSec: KA_SEC, cleanSession: true },
      (e) => events.push({ at: Date.now(), e }),
    );
    try {
      client.connect({ host: "127.0.0.1", port });
      const t0 = Date.now();
      while (!client.connected && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      expect(client.connected).toBe(true);
      await new Promise((r) => setTimeout(r, 4 * KA_SEC * 1000));
      expect(events.filter((x) => x.e.type === "closed")).toEqual([]);
      expect(client.connected).toBe(true);
      const diedAt = Date.now();
      proxy.goHalfOpen();
      while (client.connected && Date.now() - diedAt < 4 * KA_SEC * 1000) await new Promise((r) => setTimeout(r, 10));
      const closed = events.find((x) => x.e.type === "closed");
      expect(closed?.e).toMatchObject({ type: "closed", reason: expect.stringMatching(/^keep-alive: no PINGRESP/) });
      expect(closed!.at - diedAt).toBeLessThanOrEqual(1.5 * KA_SEC * 1000);
    } finally {
      client.disconnect();
      clock.clearAll();
      await proxy.close();
    }
  }, 30_000);
});

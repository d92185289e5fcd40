// The service transport's start(): with no topic filters it connects and publishes without a
// SUBSCRIBE (an empty one is illegal in MQTT 3.1.1 and used to throw inside the socket handler);
// a malformed filter is refused before connecting, with a message that names it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../host-sim/brokers/embedded";
import { MqttSocketTransport, topicFilterProblem } from "../../service/transport/mqtt-socket";

let broker: EmbeddedBroker;
beforeAll(async () => {
  broker = await startEmbeddedBroker();
});
afterAll(async () => {
  await broker?.close();
});

describe("service transport start()", () => {
  it("with no filters connects and publishes", async () => {
    const watcher = await mqtt.connectAsync(broker.url, { clientId: "watch-empty", reconnectPeriod: 0 });
    await watcher.subscribeAsync("svc/out", { qos: 1 });
    const got = new Promise<string>((resolve) => watcher.on("message", (_t, p) => resolve(p.toString())));
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on("uncaughtException", onError);
    const t = new MqttSocketTransport({ url: broker.url, clientId: "svc-no-filters" });
    try {
      await t.start([]);
      expect(t.connected()).toBe(true);
      await t.publish("svc/out", new TextEncoder().encode("hello"));
      expect(await got).toBe("hello");
      expect(errors).toEqual([]);
    } finally {
      process.off("uncaughtException", onError);
      await t.close();
      await watcher.endAsync();
    }
  });

  it.each([
    ["", "empty topic filter"],
    ["tether/#/status", '"#" must be a whole last level'],
    ["tether/a#", '"#" must be a whole last level'],
    ["tether/+x/status", '"+" must be a whole level'],
    ["x".repeat(70_000), "cannot subscribe"],
  ])("refuses filter %#", async (filter, message) => {
    const t = new MqttSocketTransport({ url: broker.url, clientId: "svc-bad-filter" });
    await expect(t.start(["tether/+/telemetry", filter])).rejects.toThrow(message);
    expect(t.connected()).toBe(false);
    await t.close();
  });

  it("a subscription refused after a reconnect is asked for again on that connection", async () => {
    const t = new MqttSocketTransport({ url: broker.url, clientId: "svc-resubscribe" });
    const got: string[] = [];
    t.onBatch((batch) => got.push(...batch.map((m) => m.topic)));
    const pub = await mqtt.connectAsync(broker.url, { clientId: "pub-resubscribe", reconnectPeriod: 0 });
    const calls: number[] = [];
    try {
      await t.start(["svc/in/#"]);
      // After the connection drops, the broker refuses the session's subscription twice (aedes
      // checks it when it restores the session, then for the SUBSCRIBE the transport sends), as
      // nats-server does while its JetStream cluster re-elects leaders.
      broker.aedes.authorizeSubscribe = (client, sub, done) => {
        if (client?.id !== "svc-resubscribe") return done(null, sub);
        calls.push(Date.now());
        done(null, calls.length <= 2 ? null : sub);
      };
      const conn = (broker.aedes as unknown as { clients: Record<string, { conn: { destroy(): void } }> }).clients["svc-resubscribe"];
      conn.conn.destroy();
      const until = Date.now() + 8_000;
      while (calls.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(calls.length).toBe(3); // asked again, and granted
      expect(calls[2] - calls[1]).toBeGreaterThanOrEqual(1_900); // after a delay, not in a loop
      await pub.publishAsync("svc/in/x", "hi", { qos: 1 });
      const end = Date.now() + 3_000;
      while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual(["svc/in/x"]);
    } finally {
      broker.aedes.authorizeSubscribe = (_c, sub, done) => done(null, sub);
      await t.close();
      await pub.endAsync();
    }
  });

  it("accepts well-formed filters", () => {
    for (const f of ["#", "+", "tether/+/ota/status", "tether/#", "/", "a//b", "+/+/#"]) expect(topicFilterProblem(f)).toBeUndefined();
  });
});

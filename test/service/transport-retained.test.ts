// The service transport against a broker that sends a subscription's retained snapshot late,
// after live messages of the same topic (aedes streams the snapshot while live traffic flows).
// A late retained OTA status used to overwrite a newer live one in the registry: a re-offered
// device then looked "rolled back" or stuck "downloading" (test/service/rollout-brokers.test.ts
// hung on aedes under CPU load). The broker here is scripted byte by byte, so the order is exact.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { encodeConnack, encodePublish, encodeSuback } from "../../device/core/mqtt/codec";
import { MqttParser } from "../../device/core/mqtt/parser";
import type { Packet } from "../../device/core/mqtt/codec";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import type { InboundMessage } from "../../service/transport/transport";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A broker that answers CONNECT and SUBSCRIBE, then runs `script` per connection; records what the client sent. */
async function scriptedBroker(script: (send: (b: Uint8Array) => void, connection: number) => void) {
  const received: Packet[] = [];
  const sockets: net.Socket[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const n = ++connections;
    const send = (b: Uint8Array) => socket.write(b);
    const parser = new MqttParser(
      (p) => {
        received.push(p);
        if (p.type === "connect") send(encodeConnack(false, 0));
        if (p.type === "subscribe") {
          send(encodeSuback(p.packetId, p.subscriptions.map(() => 1)));
          script(send, n);
        }
      },
      () => socket.destroy(),
    );
    socket.on("data", (c) => parser.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength)));
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    received,
    dropClients: () => sockets.forEach((s) => s.destroy()),
    close: () => new Promise<void>((r) => { sockets.forEach((s) => s.destroy()); server.close(() => r()); }),
  };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function waitFor(cond: () => boolean, what: string) {
  const end = Date.now() + 5_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const TOPIC = "tether/d1/ota/status";
const pub = (payload: string, retain: boolean, packetId: number) => encodePublish({ topic: TOPIC, payload: enc(payload), qos: 1, retain, packetId });

describe("service transport: a retained snapshot that arrives after live messages", () => {
  it("drops the stale retained copy, acknowledges it, and keeps the live order", async () => {
    // Live "downloading", live "rejected", then the snapshot's stale "downloading" (retained).
    const broker = await scriptedBroker((send) => {
      send(pub("downloading", false, 1));
      send(pub("rejected", false, 2));
      send(pub("downloading", true, 3));
      send(encodePublish({ topic: "tether/d2/ota/status", payload: enc("d2 before"), qos: 1, retain: true, packetId: 4 }));
    });
    const t = new MqttSocketTransport({ url: broker.url, clientId: "svc-retained" });
    cleanup.push(broker.close, () => t.close());
    const got: InboundMessage[] = [];
    t.onBatch((b) => got.push(...b));
    await t.start(["tether/+/ota/status"]);
    await waitFor(() => broker.received.filter((p) => p.type === "puback").length === 4, "4 PUBACKs");
    // The stale copy never reaches the registry; a retained message of a topic with no live one does.
    expect(got.map((m) => [m.topic, dec(m.payload), m.retain])).toEqual([
      [TOPIC, "downloading", false],
      [TOPIC, "rejected", false],
      ["tether/d2/ota/status", "d2 before", true],
    ]);
  });

  it("takes the retained snapshot again after a reconnect (a new subscription)", async () => {
    const broker = await scriptedBroker((send, connection) => {
      if (connection === 1) send(pub("live on first connection", false, 1));
      else send(pub("retained after reconnect", true, 1));
    });
    const t = new MqttSocketTransport({ url: broker.url, clientId: "svc-retained-reconnect" });
    cleanup.push(broker.close, () => t.close());
    const got: string[] = [];
    t.onBatch((b) => got.push(...b.map((m) => dec(m.payload))));
    await t.start(["tether/+/ota/status"]);
    await waitFor(() => got.length === 1, "the live message");
    broker.dropClients();
    await waitFor(() => got.length === 2, "the snapshot after the reconnect");
    expect(got).toEqual(["live on first connection", "retained after reconnect"]);
  });
});

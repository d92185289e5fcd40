/**
 * Interop on real TCP: our client and link against aedes (in-process) and a real Mosquitto
 * (Debian's package, started here on a free loopback port). A second instance of our client
 * plays the backend. Node adapters for clock and network: this is wall-clock time, so every
 * wait is bounded and short.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Aedes } from "aedes";
import { MqttClient, type MqttEvent } from "../../device/core/mqtt/client";
import { Link, type LinkEvent } from "../../device/core/link/link";
import type { Network, Socket } from "../../device/ports";
import { NodeClock } from "../../device/platform/node/clock";
import { nodeNetwork } from "../../device/platform/node/network";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { SeededRandom } from "../../host-sim/virtual/random";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A network whose sockets can be cut without DISCONNECT (a crash, as the broker sees it). */
function crashable(inner: Network) {
  const sockets: Socket[] = [];
  const network: Network = {
    connect(o, h) {
      const s = inner.connect(o, h);
      sockets.push(s);
      return s;
    },
  };
  return { network, crash: () => sockets.forEach((s) => s.close()) };
}

interface Peer {
  client: MqttClient;
  events: MqttEvent[];
  clock: NodeClock;
  kv: MemoryKv;
  crash(): void;
  of<T extends MqttEvent["type"]>(t: T): Extract<MqttEvent, { type: T }>[];
}

function peer(clientId: string, opts: Partial<ConstructorParameters<typeof MqttClient>[1]> = {}, kv = new MemoryKv(256 * 1024)): Peer {
  const clock = new NodeClock();
  const { network, crash } = crashable(nodeNetwork);
  const events: MqttEvent[] = [];
  const client = new MqttClient({ clock, network, log: () => {} }, { clientId, keepAliveSec: 30, cleanSession: false, ...opts }, (e) => events.push(e));
  return { client, events, clock, kv, crash, of: (t) => events.filter((e) => e.type === t) as never };
}

interface BrokerUnderTest {
  name: string;
  start(): Promise<{ host: string; port: number; stop(): Promise<void> }>;
}

const brokers: BrokerUnderTest[] = [
  {
    name: "aedes (in-process)",
    async start() {
      const aedes = await Aedes.createBroker();
      const sockets = new Set<net.Socket>();
      const server = net.createServer((sock) => {
        sockets.add(sock);
        sock.once("close", () => sockets.delete(sock));
        aedes.handle(sock);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as net.AddressInfo).port;
      return {
        host: "127.0.0.1",
        port,
        stop: () =>
          new Promise<void>((r) => {
            for (const sock of sockets) sock.destroy();
            server.close(() => aedes.close(() => r()));
          }),
      };
    },
  },
  { name: "mosquitto (Debian)", start: () => startMosquitto() },
];

for (const b of brokers) {
  describe(`interop: ${b.name}`, () => {
    let broker: { host: string; port: number; stop(): Promise<void> };
    const cleanup: (() => void)[] = [];
    beforeAll(async () => {
      broker = await b.start();
    });
    afterAll(async () => {
      for (const c of cleanup) c();
      await broker.stop();
    });
    const target = () => ({ host: broker.host, port: broker.port });
    const track = (p: Peer) => {
      cleanup.push(() => {
        p.client.disconnect();
        p.clock.clearAll();
      });
      return p;
    };

    test("QoS 0/1 both ways, retained status, will on crash, persistent session", async () => {
      const backend = track(peer("backend-1", { cleanSession: true }));
      backend.client.subscribe([{ topic: "tether/dev-a/#", qos: 1 }]);
      backend.client.connect(target());
      await until(() => backend.of("subscribed").length === 1, "backend SUBACK");

      const dev = track(peer("dev-a", { will: { topic: "tether/dev-a/status", payload: enc("offline"), qos: 1, retain: true } }));
      dev.client.subscribe([{ topic: "tether/dev-a/config", qos: 1 }]);
      dev.client.connect(target());
      await until(() => dev.client.connected && dev.of("subscribed").length === 1, "device connected");
      dev.client.publish("tether/dev-a/status", enc("online"), 1, true);
      const ids: number[] = [];
      for (let i = 0; i < 100; i++) ids.push(dev.client.publish("tether/dev-a/telemetry", enc(`seq:${i}`), 1));
      dev.client.publish("tether/dev-a/telemetry", enc("q0"), 0);
      await until(() => dev.of("acked").length === 101, "PUBACKs");
      expect(dev.client.inflightCount).toBe(0);
      await until(() => backend.of("message").filter((m) => m.topic.endsWith("telemetry")).length === 101, "backend got telemetry");
      const tele = backend.of("message").filter((m) => m.topic.endsWith("telemetry")).map((m) => dec(m.payload));
      // Order holds per QoS level (§4.6); Mosquitto may pass the QoS 0 message ahead of queued QoS 1.
      expect(tele.filter((t) => t !== "q0")).toEqual(ids.map((_, i) => `seq:${i}`));
      expect(tele).toContain("q0");

      // Backend → device, QoS 1.
      backend.client.publish("tether/dev-a/config", enc("cfg"), 1);
      await until(() => dev.of("message").length === 1, "config at device");
      expect(dev.of("message")[0]).toMatchObject({ topic: "tether/dev-a/config", qos: 1 });

      // Crash (no DISCONNECT): the broker publishes the retained will.
      dev.crash();
      await until(() => backend.of("message").some((m) => m.topic === "tether/dev-a/status" && dec(m.payload) === "offline"), "will");

      // While the device is away its session queues QoS 1; a new backend sees the retained status.
      backend.client.publish("tether/dev-a/config", enc("while-away"), 1);
      await until(() => backend.client.inflightCount === 0, "backend publish acked");
      const late = track(peer("backend-2", { cleanSession: true }));
      late.client.subscribe([{ topic: "tether/dev-a/status", qos: 1 }]);
      late.client.connect(target());
      await until(() => late.of("message").length === 1, "retained status");
      expect(late.of("message")[0]).toMatchObject({ retain: true });
      expect(dec(late.of("message")[0].payload)).toBe("offline");

      const dev2 = track(peer("dev-a", {}, dev.kv));
      dev2.client.subscribe([{ topic: "tether/dev-a/config", qos: 1 }]);
      dev2.client.connect(target());
      await until(() => dev2.of("message").length === 1, "queued message after reconnect");
      expect(dev2.of("connected")[0]).toEqual({ type: "connected", sessionPresent: true });
      expect(dec(dev2.of("message")[0].payload)).toBe("while-away");
    });

    test("a record put in the outbox while offline survives a reboot and is delivered (DUP) on the next connection", async () => {
      const kv = new MemoryKv(256 * 1024);
      const clock = new NodeClock();
      const ports = { clock, network: nodeNetwork, kv, log: () => {}, random: new SeededRandom(2) };
      const options = { deviceId: "dev-b", brokers: [target()], backoff: { powerOnMaxMs: 0, baseMs: 50 } };
      // Offline: stored (one KV write), not sent; then the device "reboots" before any connect.
      new Link(ports, options).send("tether/dev-b/telemetry", enc("stored"));
      expect(kv.keys().filter((k) => k.startsWith("ob"))).toHaveLength(1);
      const backend = track(peer("backend-3", { cleanSession: true }));
      backend.client.subscribe([{ topic: "tether/dev-b/telemetry", qos: 1 }]);
      backend.client.connect(target());
      await until(() => backend.of("subscribed").length === 1, "backend SUBACK");
      const link = new Link(ports, options);
      cleanup.push(() => {
        link.stop();
        clock.clearAll();
      });
      link.start();
      await until(() => backend.of("message").length === 1, "backend got it");
      await until(() => kv.keys().filter((k) => k.startsWith("ob")).length === 0, "record deleted on PUBACK");
      expect(dec(backend.of("message")[0].payload)).toBe("stored");
    });

    test("a PUBLISH over 16 KiB (retained or not, first delivery or DUP redelivery) is skipped, acknowledged, counted", async () => {
      const big = (n: number, c: number) => new Uint8Array(n).fill(c);
      const backend = track(peer("backend-5", { cleanSession: true }));
      backend.client.connect(target());
      await until(() => backend.client.connected, "backend connected");
      // persist=false: the backend's own in-flight record would be over one KV value.
      backend.client.publish("tether/dev-o/config", big(20_000, 1), 1, true, false);
      await until(() => backend.client.inflightCount === 0, "retained poison stored");

      const dev = track(peer("dev-o"));
      dev.client.subscribe([{ topic: "tether/dev-o/#", qos: 1 }]);
      dev.client.connect(target());
      await until(() => dev.client.connected, "device connected");
      backend.client.publish("tether/dev-o/ota/manifest", big(17_000, 2), 1, false, false);
      backend.client.publish("tether/dev-o/config", enc("after"), 1);
      await until(() => dev.of("message").length === 1, "the message after the big ones");
      expect(dec(dev.of("message")[0].payload)).toBe("after");
      expect(dev.of("oversized").map((e) => [e.topic, e.retain, e.length > 16 * 1024])).toEqual([
        ["tether/dev-o/config", true, true],
        ["tether/dev-o/ota/manifest", false, true],
      ]);
      expect(dev.of("closed")).toEqual([]);
      expect(dev.client.connected).toBe(true);

      // Redelivery: a device loses power half-way through receiving a big message, so the
      // broker never got its PUBACK and resends it (DUP) on the resumed session.
      const dying = track(peer("dev-r"));
      dying.client.subscribe([{ topic: "tether/dev-r/ota/manifest", qos: 1 }]);
      const inner = dying.client["ports"].network;
      let got = 0;
      dying.client["ports"].network = {
        connect(o, h) {
          const sock = inner.connect(o, {
            ...h,
            onData: (b) => {
              got += b.length;
              if (got > 4096) return sock.close(); // power gone; nothing acknowledged
              h.onData(b);
            },
          });
          return sock;
        },
      };
      dying.client.connect(target());
      await until(() => dying.client.connected && dying.of("subscribed").length === 1, "dev-r subscribed");
      got = 0;
      backend.client.publish("tether/dev-r/ota/manifest", big(20_000, 3), 1, false, false);
      await until(() => dying.of("closed").length === 1, "dev-r lost power mid-message");
      const back = track(peer("dev-r", {}, dying.kv));
      back.client.subscribe([{ topic: "tether/dev-r/ota/manifest", qos: 1 }]);
      back.client.connect(target());
      await until(() => back.of("oversized").length === 1, "redelivered big message skipped");
      expect(back.of("oversized")[0]).toMatchObject({ topic: "tether/dev-r/ota/manifest", qos: 1 });
      expect(back.of("oversized")[0].dup).toBe(b.name.startsWith("mosquitto"));
      // Mosquitto 2.0 flags the resend DUP; aedes 1.2 resends it with DUP 0: both are acknowledged.
      expect(back.of("connected")[0]).toEqual({ type: "connected", sessionPresent: true });
      backend.client.publish("tether/dev-r/ota/manifest", enc("small"), 1);
      await until(() => back.of("message").length === 1, "next message");
      expect(back.client.connected).toBe(true);
      // Acknowledged: one more reset, and the broker has nothing to resend.
      back.crash();
      await until(() => back.of("closed").length === 1, "reset");
      const again = track(peer("dev-r", {}, dying.kv));
      again.client.subscribe([{ topic: "tether/dev-r/ota/manifest", qos: 1 }]);
      again.client.connect(target());
      await until(() => again.client.connected && again.of("subscribed").length === 1, "reconnected");
      backend.client.publish("tether/dev-r/ota/manifest", enc("sentinel"), 1);
      await until(() => again.of("message").length === 1, "sentinel");
      expect(again.of("oversized")).toEqual([]);
      expect(dec(again.of("message")[0].payload)).toBe("sentinel");
    });

    test("the Link: online status, ordered telemetry through the queue, reconnect after the socket dies", async () => {
      const clock = new NodeClock();
      const { network, crash } = crashable(nodeNetwork);
      const events: LinkEvent[] = [];
      const backend = track(peer("backend-4", { cleanSession: true }));
      backend.client.subscribe([{ topic: "tether/dev-c/#", qos: 1 }]);
      backend.client.connect(target());
      await until(() => backend.of("subscribed").length === 1, "backend SUBACK");
      const link = new Link(
        { clock, network, kv: new MemoryKv(64 * 1024), log: () => {}, random: new SeededRandom(1) },
        { deviceId: "dev-c", brokers: [target()], backoff: { powerOnMaxMs: 0, baseMs: 50 } },
        (e) => events.push(e),
      );
      cleanup.push(() => {
        link.stop();
        clock.clearAll();
      });
      for (let i = 0; i < 10; i++) link.send("tether/dev-c/telemetry", enc(`seq:${i}`));
      link.start();
      await until(() => link.state === "online" && link.stats().queued === 0 && link.client.inflightCount === 0, "link drained");
      crash();
      for (let i = 10; i < 20; i++) link.send("tether/dev-c/telemetry", enc(`seq:${i}`));
      await until(() => link.stats().reconnects === 1 && link.stats().queued === 0 && link.client.inflightCount === 0, "reconnected and drained");
      const got = () => backend.of("message").filter((m) => m.topic.endsWith("telemetry")).map((m) => Number(dec(m.payload).slice(4)));
      await until(() => new Set(got()).size === 20, "backend got all 20 records");
      expect([...new Set(got())]).toEqual([...Array(20).keys()]);
      const status = backend.of("message").filter((m) => m.topic.endsWith("status")).map((m) => dec(m.payload));
      expect(status[0]).toBe("online");
      expect(status.at(-1)).toBe("online");
    });
  });
}

describe("interop: mosquitto with authentication and TLS", () => {
  let mq: Mosquitto;
  let tlsPort: number;
  let ca: string;
  let otherCa: string;
  const cleanup: (() => void)[] = [];

  beforeAll(async () => {
    const { execFileSync } = await import("node:child_process");
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-pki-"));
    try {
      const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: tmp, stdio: "pipe" });
      const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
      run("openssl", "req", "-x509", ...key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Tether Test CA");
      run("openssl", "req", "-x509", ...key, "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=Someone Else");
      run("openssl", "req", ...key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
      fs.writeFileSync(path.join(tmp, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
      run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
      fs.writeFileSync(path.join(tmp, "passwd"), "");
      run("mosquitto_passwd", "-b", "passwd", "tether", "s3cret");
      const read = (f: string) => fs.readFileSync(path.join(tmp, f), "utf8");
      ca = read("ca.pem");
      otherCa = read("other.pem");
      const { freePort } = await import("../helpers/mosquitto");
      tlsPort = await freePort();
      mq = await startMosquitto({
        noAnonymous: true,
        files: { "ca.pem": ca, "server.pem": read("server.pem"), "server.key": read("server.key"), passwd: read("passwd") },
        config: [
          "allow_anonymous false",
          "password_file {dir}/passwd",
          `listener ${tlsPort} 127.0.0.1`,
          "cafile {dir}/ca.pem",
          "certfile {dir}/server.pem",
          "keyfile {dir}/server.key",
        ],
      });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    for (const c of cleanup) c();
    await mq?.stop();
  });
  const track = (p: Peer) => {
    cleanup.push(() => {
      p.client.disconnect();
      p.clock.clearAll();
    });
    return p;
  };

  test("bad credentials are refused with an authorisation code; good ones connect", async () => {
    const bad = track(peer("dev-auth", { username: "tether", password: "wrong" }));
    bad.client.connect({ host: mq.host, port: mq.port });
    await until(() => bad.of("closed").length === 1, "refusal");
    expect([4, 5]).toContain(bad.of("refused")[0]?.code);
    const none = track(peer("dev-auth2"));
    none.client.connect({ host: mq.host, port: mq.port });
    await until(() => none.of("closed").length === 1, "anonymous refusal");
    expect([4, 5]).toContain(none.of("refused")[0]?.code);
    const good = track(peer("dev-auth3", { username: "tether", password: "s3cret" }));
    good.client.connect({ host: mq.host, port: mq.port });
    await until(() => good.client.connected, "authenticated connect");
  });

  test("mqtts:// with the CA connects and carries QoS 1; a wrong CA is refused by TLS", async () => {
    const dev = track(peer("dev-tls", { username: "tether", password: "s3cret" }));
    dev.client.connect({ host: "127.0.0.1", port: tlsPort, tls: { ca, servername: "localhost" } });
    await until(() => dev.client.connected, "TLS connect");
    dev.client.publish("tether/dev-tls/telemetry", enc("over tls"), 1);
    await until(() => dev.of("acked").length === 1, "PUBACK over TLS");
    const wrong = track(peer("dev-tls2", { username: "tether", password: "s3cret" }));
    wrong.client.connect({ host: "127.0.0.1", port: tlsPort, tls: { ca: otherCa, servername: "localhost" } });
    await until(() => wrong.of("closed").length === 1, "TLS failure");
    expect(wrong.of("connected")).toHaveLength(0);
    expect(wrong.of("closed")[0].reason).toMatch(/cert|verify|self.signed|issuer/i);
  });
});

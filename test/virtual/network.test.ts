import { describe, expect, it } from "vitest";
import type { SocketHandler } from "../../device/ports";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { CONNECT_TIMEOUT_MS, VirtualNetwork, type VirtualSocket } from "../../host-sim/virtual/network";

function recorder(log: string[], tag: string, clock: VirtualClock): SocketHandler {
  return {
    onConnect: () => log.push(`${clock.now()} ${tag} connect`),
    onData: (b) => log.push(`${clock.now()} ${tag} data ${[...b].join(",")}`),
    onClose: (r) => log.push(`${clock.now()} ${tag} close ${r}`),
  };
}

function setup() {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  const log: string[] = [];
  let server: VirtualSocket | undefined;
  net.listen("broker", 1883, (s) => {
    server = s;
    return {
      onConnect() {},
      onData: (b) => {
        log.push(`${clock.now()} server data ${[...b].join(",")}`);
        s.write(b.map((x) => x + 1)); // echo + 1
      },
      onClose: (r) => log.push(`${clock.now()} server close ${r}`),
    };
  });
  return { clock, net, log, server: () => server! };
}

describe("VirtualNetwork", () => {
  it("connects after a round trip and delivers bytes in order after the latency", () => {
    const { clock, net, log } = setup();
    const sock = net.connect({ host: "broker", port: 1883 }, recorder(log, "dev", clock));
    clock.advance(10);
    sock.write(new Uint8Array([1]));
    sock.write(new Uint8Array([2]));
    clock.advance(100);
    expect(log).toEqual(["10 dev connect", "15 server data 1", "15 server data 2", "20 dev data 2", "20 dev data 3"]);
  });

  it("write() copies: a sender may reuse its buffer at once (the virtual broker's PUBACK does)", () => {
    const { clock, net, log } = setup();
    const sock = net.connect({ host: "broker", port: 1883 }, recorder(log, "dev", clock));
    clock.advance(10);
    const out = new Uint8Array([7, 7]);
    sock.write(out);
    out[1] = 8;
    sock.write(out);
    out.fill(0);
    clock.advance(1);
    sock.write(out.subarray(0, 1)); // bytes still in flight are unaffected by later writes
    out[0] = 9;
    clock.advance(100);
    expect(log.filter((l) => l.includes("server"))).toEqual(["15 server data 7,7", "15 server data 7,8", "16 server data 0"]);
  });

  it("every chunk a receiver got keeps its bytes, across many chunks of every size (copies share slabs, never overlap)", () => {
    const clock = new VirtualClock();
    const net = new VirtualNetwork(clock);
    const got: Uint8Array[] = [];
    net.listen("broker", 1883, () => ({ onConnect() {}, onData: (b) => void got.push(b), onClose() {} }));
    const sock = net.connect({ host: "broker", port: 1883 }, recorder([], "dev", clock));
    clock.advance(10);
    const sent: number[][] = [];
    const out = new Uint8Array(5000);
    for (let i = 0; i < 600; i++) {
      const n = 1 + ((i * 7919) % (i % 10 === 0 ? 5000 : 700)); // mostly small, some over a slab's chunk limit
      for (let k = 0; k < n; k++) out[k] = (i + k * 31) & 0xff;
      sock.write(out.subarray(0, n));
      sent.push([...out.subarray(0, n)]);
      if (i % 3 === 0) clock.advance(1);
    }
    clock.advance(100);
    expect(got.length).toBe(600);
    got.forEach((b, i) => expect([...b], `chunk ${i}`).toEqual(sent[i]));
  });

  it("refuses when nobody listens, and times out when the network is down", () => {
    const { clock, net, log } = setup();
    net.connect({ host: "nobody", port: 1 }, recorder(log, "a", clock));
    clock.advance(10);
    net.setDown(true);
    net.connect({ host: "broker", port: 1883 }, recorder(log, "b", clock));
    clock.advance(CONNECT_TIMEOUT_MS + 100);
    expect(log).toEqual(["10 a close connection refused", `${20 + CONNECT_TIMEOUT_MS} b close connect timed out`]);
  });

  it("a local close reports 'closed' to us and a FIN to the peer after bytes in flight", () => {
    const { clock, net, log } = setup();
    const sock = net.connect({ host: "broker", port: 1883 }, recorder(log, "dev", clock));
    clock.advance(10);
    sock.write(new Uint8Array([5]));
    sock.close();
    sock.close();
    clock.advance(100);
    expect(log).toEqual(["10 dev connect", "10 dev close closed", "15 server data 5", "15 server close peer closed"]);
    expect(net.openLinks()).toHaveLength(0);
  });

  it("blackhole makes a half-open link: bytes vanish and no one is told", () => {
    const { clock, net, log } = setup();
    const sock = net.connect({ host: "broker", port: 1883 }, recorder(log, "dev", clock));
    clock.advance(10);
    net.blackholeAll();
    sock.write(new Uint8Array([1]));
    clock.advance(60_000);
    expect(log).toEqual(["10 dev connect"]);
  });

  it("dropAll closes both ends; a transmit fault can cut a write part-way and reset", () => {
    const { clock, net, log } = setup();
    const a = net.connect({ host: "broker", port: 1883 }, recorder(log, "a", clock));
    clock.advance(10);
    net.transmitFault = (_link, from, bytes) => (from === "client" && bytes.length > 2 ? { deliverBytes: 2, then: "drop" } : undefined);
    a.write(new Uint8Array([1, 2, 3, 4]));
    clock.advance(50);
    // The partial packet reaches the broker before the reset does.
    expect(log).toEqual(["10 a connect", "10 a close connection reset", "15 server data 1,2", "15 server close connection reset"]);
    net.transmitFault = undefined;
    const b = net.connect({ host: "broker", port: 1883 }, recorder(log, "b", clock));
    clock.advance(10);
    net.dropAll();
    clock.advance(10);
    expect(log.slice(-3)).toEqual(["70 b connect", "70 b close network dropped", "70 server close network dropped"]);
    expect(b.write(new Uint8Array([1]))).toBe(0);
  });
});

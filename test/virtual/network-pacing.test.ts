/**
 * The virtual network paced by the device's radio: a chunk holds its link direction for its
 * airtime (bytes × 8 / rate), in order, then takes the latency; the power model charges the
 * radio for the same airtime. Before, every chunk arrived `latencyMs` after it was written,
 * whatever its size: a 1.5 MB download took 0.2 s of simulated time.
 */
import { describe, expect, it } from "vitest";
import { Agent } from "../../device/core/agent";
import { OtaState } from "../../device/core/ota/codes";
import { decodeStatus } from "../../device/core/ota/status";
import { toHex } from "../../device/core/ota/bytes";
import type { SocketHandler } from "../../device/ports";
import { DEFAULT_POWER_COSTS, poweredNetwork, transmitMs } from "../../host-sim/battery/power";
import { SimBattery } from "../../host-sim/battery/sim-battery";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { DEFAULT_LINK_RATE_BPS, linkRateBps } from "../../host-sim/fleet/radio";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { airtimeMicros, DEFAULT_LATENCY_MS, VirtualNetwork, type VirtualSocket } from "../../host-sim/virtual/network";
import { SeededRandom } from "../../host-sim/virtual/random";
import { DeviceHalted } from "../../host-sim/virtual/system";
import { blankStorage, virtualDevicePorts } from "../../host-sim/virtual-device";
import { splitBlocks } from "../../tools/ota/bundle";
import { BLOCK, KEY, bundle } from "../ota/fixtures";

const STRONG_DBM = -60;
const WEAK_DBM = -95;

/** A network with a listener that records (arrival ms, bytes) per chunk; the client connected. */
function link(rateBps: number) {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  net.rateBps = rateBps;
  const atServer: [number, number][] = [];
  const atClient: [number, number][] = [];
  let server: VirtualSocket | undefined;
  net.listen("broker", 1883, (s) => {
    server = s;
    return { onConnect() {}, onData: (b) => atServer.push([clock.now(), b.length]), onClose() {} };
  });
  const handler: SocketHandler = { onConnect() {}, onData: (b) => atClient.push([clock.now(), b.length]), onClose() {} };
  const client = net.connect({ host: "broker", port: 1883 }, handler) as VirtualSocket;
  clock.advance(2 * DEFAULT_LATENCY_MS);
  return { clock, net, client, server: server!, atServer, atClient };
}

describe("a link paced by the radio's rate", () => {
  it("a chunk arrives after its airtime plus the latency, in both directions", () => {
    const rate = linkRateBps(WEAK_DBM);
    const { clock, client, server, atServer, atClient } = link(rate);
    const t0 = clock.now();
    client.write(new Uint8Array(100_000));
    server.write(new Uint8Array(50_000));
    clock.advance(10_000);
    expect(atServer).toEqual([[t0 + Math.floor(airtimeMicros(100_000, rate) / 1000) + DEFAULT_LATENCY_MS, 100_000]]);
    expect(atClient).toEqual([[t0 + Math.floor(airtimeMicros(50_000, rate) / 1000) + DEFAULT_LATENCY_MS, 50_000]]);
    // 100 kB at ~1 Mbit/s: most of a second, not 5 ms.
    expect(atServer[0][0] - t0).toBeGreaterThan(500);
  });

  it("a big chunk delays a small one written after it (serialization, in order)", () => {
    const rate = DEFAULT_LINK_RATE_BPS;
    const { clock, client, atServer } = link(rate);
    const t0 = clock.now();
    client.write(new Uint8Array(64 * 1024));
    clock.advance(3);
    client.write(new Uint8Array(10));
    clock.advance(1000);
    const bigDone = t0 + Math.floor(airtimeMicros(64 * 1024, rate) / 1000);
    expect(atServer[0]).toEqual([bigDone + DEFAULT_LATENCY_MS, 64 * 1024]);
    // The small one waits for the big one to leave, then takes its own airtime (under 1 ms).
    expect(atServer[1][1]).toBe(10);
    const big = airtimeMicros(64 * 1024, rate);
    expect(atServer[1][0]).toBe(Math.floor((t0 * 1000 + big + airtimeMicros(10, rate)) / 1000) + DEFAULT_LATENCY_MS);
    // Unpaced, it would have arrived at t0 + 3 + latency, 80 ms before the big one.
    expect(atServer[1][0] - (t0 + 3 + DEFAULT_LATENCY_MS)).toBeGreaterThan(70);
  });

  it("a 119-byte telemetry publish at a good spot adds well under a millisecond", () => {
    expect(airtimeMicros(119, DEFAULT_LINK_RATE_BPS)).toBeLessThan(200);
    const { clock, client, atServer } = link(DEFAULT_LINK_RATE_BPS);
    const t0 = clock.now();
    client.write(new Uint8Array(119));
    clock.advance(100);
    expect(atServer).toEqual([[t0 + DEFAULT_LATENCY_MS, 119]]);
  });

  it("an unpaced network (rate 0, the default) delivers after the latency only", () => {
    const { clock, client, atServer } = link(0);
    const t0 = clock.now();
    client.write(new Uint8Array(1_000_000));
    clock.advance(100);
    expect(atServer).toEqual([[t0 + DEFAULT_LATENCY_MS, 1_000_000]]);
  });

  it("the power model charges the radio for the airtime the network paces with", () => {
    const rate = linkRateBps(WEAK_DBM);
    const clock = new VirtualClock();
    const net = new VirtualNetwork(clock);
    net.rateBps = rate;
    const battery = new SimBattery(clock, new SeededRandom(3));
    const m = battery.model;
    const costs = { ...DEFAULT_POWER_COSTS, rateBps: rate };
    let server: VirtualSocket | undefined;
    const arrived: number[] = [];
    net.listen("broker", 1883, (s) => {
      server = s;
      return { onConnect() {}, onData: () => arrived.push(clock.now()), onClose() {} };
    });
    const sock = poweredNetwork(net, battery, costs).connect({ host: "broker", port: 1883 }, { onConnect() {}, onData() {}, onClose() {} });
    clock.advance(100);
    // Upload: the radio sends for the wake plus exactly the time the bytes hold the link.
    const sent = 200_000;
    const t0 = clock.now();
    let before = battery.drawnUaMs;
    sock.write(new Uint8Array(sent));
    clock.advance(5_000);
    const onAir = arrived[0] - DEFAULT_LATENCY_MS - t0;
    expect(onAir).toBe(Math.floor(airtimeMicros(sent, rate) / 1000));
    expect(transmitMs(sent, costs) - costs.txBaseMs).toBe(Math.ceil(airtimeMicros(sent, rate) / 1000));
    expect(battery.drawnUaMs - before).toBe(m.sleepUa * 5_000 + (m.transmitUa - m.sleepUa) * transmitMs(sent, costs));
    // Download: the radio receives for the bytes' airtime at the receive current.
    const received = 300_000;
    before = battery.drawnUaMs;
    server!.write(new Uint8Array(received));
    clock.advance(10_000);
    const rxMs = Math.floor(airtimeMicros(received, rate) / 1000);
    expect(rxMs).toBeGreaterThan(2_000);
    expect(battery.drawnUaMs - before).toBe(m.sleepUa * 10_000 + (costs.receiveUa - m.sleepUa) * rxMs);
  });
});

/** A real agent downloads a 1.5 MB image over a link of `rateBps`; returns the download's simulated ms. */
function downloadMs(rateBps: number): number {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  network.rateBps = rateBps;
  const broker = new VirtualBroker(network).start();
  const id = "dev-pace";
  let started: number | undefined;
  let ended: number | undefined;
  const statuses: string[] = [];
  broker.subscribeInternal(`tether/${id}/ota/status`, (_t, p) => {
    const s = decodeStatus(p);
    statuses.push(`${clock.now()} state ${s.state} result ${s.result} ${s.detail ?? ""}`);
    if (s.state === OtaState.Downloading) started ??= clock.now();
    else if (started !== undefined && s.state >= OtaState.Downloaded) ended ??= clock.now();
  });
  const device = virtualDevicePorts({
    seed: 11,
    clock,
    network,
    storage: blankStorage(),
    batteryModel: { capacityMah: 4000, capacityVariationPermille: 0 },
    onRestart: () => {
      throw new DeviceHalted("restart");
    },
  });
  const agent = new Agent(device.ports, { deviceId: id, brokers: ["mqtt://broker:1883"], ota: { trustedKeys: [KEY.publicKey] } }, () => {});
  agent.start();
  clock.advance(60_000);
  const b = bundle(2000, { size: 1_500_000 });
  const image = toHex(b.manifest.sha256);
  splitBlocks(b.image, BLOCK).forEach((bytes, n) => broker.publishInternal(`tether/ota/image/${image}/block/${n}`, bytes, { qos: 1, retain: true }));
  broker.publishInternal(`tether/${id}/ota/manifest`, b.envelope, { qos: 1, retain: true });
  try {
    for (let i = 0; i < 600 && ended === undefined; i++) clock.advance(1_000);
  } catch (e) {
    if (!(e instanceof DeviceHalted)) throw e;
    ended ??= clock.now(); // restarted into the new image straight from the download
  }
  if (started === undefined || ended === undefined) throw new Error(`download did not finish: ${statuses.join("; ")}`);
  return ended - started;
}

describe("an OTA download takes as long as the device's radio needs", () => {
  it("1.5 MB: a weak-signal device takes longer than a strong one by the rate table's ratio", () => {
    const strong = linkRateBps(STRONG_DBM);
    const weak = linkRateBps(WEAK_DBM);
    const fast = downloadMs(strong);
    const slow = downloadMs(weak);
    const bits = 1_500_000 * 8;
    console.log(`1.5 MB OTA download: ${fast} ms at ${STRONG_DBM} dBm (${strong} bit/s), ${slow} ms at ${WEAK_DBM} dBm (${weak} bit/s)`);
    // Each takes at least its airtime, and the protocol's round trips add less than half again.
    expect(fast).toBeGreaterThanOrEqual((bits * 1000) / strong);
    expect(slow).toBeGreaterThanOrEqual((bits * 1000) / weak);
    expect(fast).toBeLessThan(1.5 * ((bits * 1000) / strong));
    // The difference is the difference in airtime (the same protocol overhead on both), within 10 %.
    const airtimeDiff = (bits * 1000) / weak - (bits * 1000) / strong;
    expect(Math.abs(slow - fast - airtimeDiff)).toBeLessThan(0.1 * airtimeDiff);
  }, 120_000);
});

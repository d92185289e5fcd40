/**
 * The `loss` fault draws per link: which of a link's writes is lost depends on that link's own
 * writes only, not on other devices' writes or on the order of ties at one millisecond.
 * (With one stream for the whole network, a different tie order or one more device reassigned
 * the lost segments: s6-device had to explain two moved trace hashes that way.)
 * Replay: SEED=<seed> npx vitest run test/fleet/loss-per-link.test.ts
 */
import { describe, expect, it } from "vitest";
import { lossFault } from "../../host-sim/fleet/faults";
import { parseScenario } from "../../host-sim/fleet/scenario";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import type { Socket } from "../../device/ports";
import { fleet, seedFromEnv } from "./helpers";

const FILE = "test/fleet/loss-per-link.test.ts";
const SEED = seedFromEnv(4242);
const replay = `replay: SEED=${SEED} npx vitest run ${FILE}`;

/**
 * Devices write one 100-byte chunk each every 20 ms, in the given order, through the loss
 * hook; returns per device the writes that were cut (round, link and bytes delivered). A cut resets
 * the link, so the device opens its next link (connection number + 1) and goes on.
 */
function lossesFor(order: number[], writes: number): Map<number, string[]> {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  net.listen("broker", 1883, () => ({ onConnect() {}, onData() {}, onClose() {} }));
  const hook = lossFault(SEED, 3, 100);
  const lost = new Map<number, string[]>();
  let round = 0;
  net.transmitFault = (link, from, bytes) => {
    const fault = hook(link, from, bytes);
    if (fault) lost.get(link.device)!.push(`round ${round} conn ${link.conn} ${from} cut at ${fault.deliverBytes}`);
    return fault;
  };
  const conns = new Map<number, number>();
  const sockets = new Map<number, Socket>();
  const open = (dev: number) => {
    const conn = conns.get(dev) ?? 0;
    conns.set(dev, conn + 1);
    sockets.set(dev, net.connect({ host: "broker", port: 1883 }, { onConnect() {}, onData() {}, onClose: () => open(dev) }, { device: dev, conn }));
  };
  for (const dev of order) {
    lost.set(dev, []);
    open(dev);
  }
  clock.advance(20);
  for (round = 0; round < writes; round++) {
    for (const dev of order) sockets.get(dev)!.write(new Uint8Array(100));
    clock.advance(20);
  }
  return lost;
}

describe(`loss fault: one random stream per link (seed ${SEED})`, () => {
  it("another tie order and an extra device do not move which writes of a link are lost", () => {
    const a = lossesFor([1, 2], 400);
    const b = lossesFor([7, 2, 1], 400);
    // The fault did cut writes (10 % of them), on both links.
    expect(a.get(1)!.length, replay).toBeGreaterThan(10);
    expect(a.get(2)!.length, replay).toBeGreaterThan(10);
    expect(b.get(1), replay).toEqual(a.get(1));
    expect(b.get(2), replay).toEqual(a.get(2));
    // The streams are per link, not one shared pattern.
    expect(a.get(2), replay).not.toEqual(a.get(1));
  });

  it("a device under a loss fault does in shard 0 of 2 exactly what it does in a one-thread run", async () => {
    const scenario = parseScenario(
      JSON.stringify({
        devices: 6,
        duration: "2h",
        seed: SEED,
        drain: "10m",
        groups: [{ name: "all", telemetry: { reportInterval: "20s" }, keepAlive: "1m" }],
        faults: [{ kind: "loss", at: "10m", for: "1h", permille: 30 }],
      }),
      "loss-per-link",
    );
    /** Each device's own trace events (time, code, arguments), for the devices of shard 0/2. */
    const perDevice = async (shard: { index: number; count: number }) => {
      const f = await fleet(scenario, { shard });
      const events = new Map<number, string[]>();
      const add = f.trace.add.bind(f.trace);
      f.trace.add = (t, device, code, x = 0, y = 0) => {
        add(t, device, code, x, y);
        if (device % 2 !== 0 || device >= 6) return;
        if (!events.has(device)) events.set(device, []);
        events.get(device)!.push(`${t} ${code} ${x} ${y}`);
      };
      const summary = f.run();
      return { events, summary };
    };
    const whole = await perDevice({ index: 0, count: 1 });
    const half = await perDevice({ index: 0, count: 2 });
    // The fault reset links (reconnects beyond the first connects) and the events are there.
    expect(whole.summary.reconnects, replay).toBeGreaterThan(6);
    for (const d of [0, 2, 4]) {
      expect(whole.events.get(d)!.length, replay).toBeGreaterThan(100);
      expect(half.events.get(d), `device ${d}; ${replay}`).toEqual(whole.events.get(d));
    }
  }, 180_000);
});

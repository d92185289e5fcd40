import { describe, expect, it } from "vitest";
import { poweredNetwork, poweredSensors, transmitMs } from "../../host-sim/battery/power";
import { SimBattery } from "../../host-sim/battery/sim-battery";
import { SimSensors } from "../../host-sim/sensors/sim-sensors";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { SeededRandom } from "../../host-sim/virtual/random";

describe("power-charging port wrappers", () => {
  it("a connection attempt, a write and a sample each cost their charge; refused attempts cost too", () => {
    const clock = new VirtualClock();
    const battery = new SimBattery(clock, new SeededRandom(3));
    const net = new VirtualNetwork(clock);
    const got: number[] = [];
    net.listen("broker", 1883, () => ({ onConnect() {}, onData: (b) => got.push(b.length), onClose() {} }));
    const pnet = poweredNetwork(net, battery);
    const m = battery.model;
    let closed = "";
    const sock = pnet.connect({ host: "broker", port: 1883 }, { onConnect() {}, onData() {}, onClose: (r) => (closed = r) });
    expect(battery.connectAttempts).toBe(1);
    clock.advance(100);
    const before = battery.drawnUaMs;
    sock.write(new Uint8Array(2048));
    clock.advance(1000);
    expect(got).toEqual([2048]);
    expect(battery.drawnUaMs - before).toBe(m.sleepUa * 1000 + (m.transmitUa - m.sleepUa) * transmitMs(2048));
    pnet.connect({ host: "nobody", port: 1 }, { onConnect() {}, onData() {}, onClose() {} });
    expect(battery.connectAttempts).toBe(2);
    sock.close();
    clock.advance(100);
    expect(closed).not.toBe("");

    const sensors = poweredSensors(new SimSensors(clock, new SeededRandom(4)), battery);
    const b2 = battery.drawnUaMs;
    expect(sensors.sample().temperatureCentiC).toBeTypeOf("number");
    clock.advance(1000);
    expect(battery.drawnUaMs - b2).toBe(m.sleepUa * 1000 + (m.activeUa - m.sleepUa) * 300);
  });
});

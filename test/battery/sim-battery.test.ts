import { describe, expect, it } from "vitest";
import { SimBattery } from "../../host-sim/battery/sim-battery";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { SeededRandom } from "../../host-sim/virtual/random";
import { adcToMillivolts } from "../../device/core/battery/soc";
import { testSeed } from "../helpers/seed";

const SEED = testSeed(Date.now() % 1_000_000);
const replay = `SEED=${SEED} npx vitest run test/battery/sim-battery.test.ts`;

describe(`SimBattery physics (${replay})`, () => {
  it("drains exactly current × time, piecewise over overlapping bursts", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { capacityVariationPermille: 0 });
    const start = b.remainingUaMs();
    b.active(1000); // +78.5 mA for 1 s
    clock.advance(500);
    b.transmit(200); // overlaps the active burst
    clock.advance(3_600_000);
    const m = b.model;
    const expected = m.sleepUa * 3_600_500 + (m.activeUa - m.sleepUa) * 1000 + (m.transmitUa - m.sleepUa) * 200;
    expect(start - b.remainingUaMs()).toBe(expected);
    expect(b.drawnUaMs).toBe(expected);
  });

  it("terminal voltage is OCV − I·R: a TX burst dips it, and the ADC reads it through the divider", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { adcNoiseLsb: 0, capacityVariationPermille: 0 });
    const rest = b.terminalMv();
    expect(rest).toBe(4190 - Math.trunc((1500 * 250) / 1e6));
    b.transmit(100);
    expect(b.terminalMv()).toBe(b.openCircuitMv() - Math.trunc((250_000 * 250) / 1e6));
    // The read is made by the CPU, running on top of the TX: the ADC sees both (20 mV more sag).
    const readLoad = b.model.transmitUa + b.model.activeUa - b.model.sleepUa;
    expect(Math.abs(adcToMillivolts(b.read(), b.resolution, b.fullScaleMv) - (b.openCircuitMv() - Math.trunc((readLoad * 250) / 1e6)))).toBeLessThanOrEqual(2);
    clock.advance(100);
    expect(b.terminalMv()).toBe(b.openCircuitMv()); // sleep current × R rounds to 0 mV
    expect(rest - b.terminalMv()).toBeLessThanOrEqual(1);
  });

  it("a radio burst while the radio is busy queues behind it; bursts of other loads add up; ended bursts stop drawing", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { capacityVariationPermille: 0 });
    const m = b.model;
    const tx = m.transmitUa - m.sleepUa;
    const cpu = m.activeUa - m.sleepUa;
    b.active(50);
    b.transmit(100);
    b.transmit(100); // queued: one radio, so 200 ms at one burst's current, not 100 ms at two
    expect(b.currentUa()).toBe(m.sleepUa + tx + cpu);
    clock.advance(50);
    expect(b.currentUa()).toBe(m.sleepUa + tx);
    clock.advance(100);
    expect(b.currentUa()).toBe(m.sleepUa + tx);
    b.transmit(30); // still busy until 200: extends to 230
    clock.advance(79);
    expect(b.currentUa()).toBe(m.sleepUa + tx);
    clock.advance(1);
    expect(b.currentUa()).toBe(m.sleepUa);
    // Many short bursts, each ended before the next: the charge is exact and nothing piles up.
    const before = b.remainingUaMs();
    for (let i = 0; i < 1000; i++) {
      b.transmit(5);
      b.active(3);
      clock.advance(10);
    }
    expect(before - b.remainingUaMs()).toBe(m.sleepUa * 10_000 + 1000 * (tx * 5 + cpu * 3));
    expect(b.currentUa()).toBe(m.sleepUa);
  });

  it("a chip reset ends the radio's queued packets and the CPU's work, not an outside load", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { capacityVariationPermille: 0 });
    const m = b.model;
    b.burst(60_000, 3_600_000); // a fault's drain ("other")
    for (let i = 0; i < 100; i++) b.transmit(20); // 2 s of queued TX
    b.active(500);
    clock.advance(100);
    expect(b.currentUa()).toBe(m.sleepUa + 60_000 + (m.transmitUa - m.sleepUa) + (m.activeUa - m.sleepUa));
    const before = b.remainingUaMs();
    b.chipReset();
    expect(b.currentUa()).toBe(m.sleepUa + 60_000);
    clock.advance(1000);
    expect(before - b.remainingUaMs()).toBe((m.sleepUa + 60_000) * 1000);
  });

  it("the ADC is read by a running CPU: a read sees at least the active current, never the sleep current", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { adcNoiseLsb: 0, capacityVariationPermille: 0, startPermille: 300 });
    const adcMv = () => adcToMillivolts(b.read(), b.resolution, b.fullScaleMv);
    const atActive = b.openCircuitMv() - Math.trunc((b.model.activeUa * b.model.internalMilliohm) / 1e6); // 3780 − 20 mV
    // Asleep between ticks: the regulator sees ~OCV, but whoever reads the ADC is awake.
    expect(b.terminalMv()).toBe(b.openCircuitMv());
    expect(Math.abs(adcMv() - atActive)).toBeLessThanOrEqual(2);
    // A wake already charged (CPU burst): the same load, read the same.
    b.active(300);
    expect(Math.abs(adcMv() - b.terminalMv())).toBeLessThanOrEqual(2);
    expect(Math.abs(adcMv() - atActive)).toBeLessThanOrEqual(2);
    // A read inside a TX burst sees the burst's sag, plus the CPU that reads (loads add up).
    clock.advance(300);
    b.transmit(50);
    const txAndCpu = b.openCircuitMv() - Math.trunc(((b.model.transmitUa + b.model.activeUa - b.model.sleepUa) * b.model.internalMilliohm) / 1e6);
    expect(Math.abs(adcMv() - txAndCpu)).toBeLessThanOrEqual(2);
    expect(atActive - adcMv()).toBeGreaterThan(35);
  });

  it("a read sees the sum of the loads: an outside drain adds to the CPU's current, it does not hide under it", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { adcNoiseLsb: 0, capacityVariationPermille: 0, startPermille: 300 });
    const m = b.model;
    const adcMv = () => adcToMillivolts(b.read(), b.resolution, b.fullScaleMv);
    const sagMv = (ua: number) => Math.trunc((ua * m.internalMilliohm) / 1e6);
    b.burst(60_000, 3_600_000); // a battery-drain fault: 60 mA outside the chip ("other")
    clock.advance(1000);
    // Not yet charged for this wake: the CPU still runs to read: sleep + 60 mA + (active − sleep) ≈ 140 mA.
    // (The old max(current, active) read 80 mA here: 15 mV high.)
    expect(Math.abs(adcMv() - (b.openCircuitMv() - sagMv(m.activeUa + 60_000))), replay).toBeLessThanOrEqual(2);
    // A wake already charged (the CPU's burst): the same sum, not the CPU counted twice.
    b.active(300);
    expect(Math.abs(adcMv() - (b.openCircuitMv() - sagMv(m.activeUa + 60_000))), replay).toBeLessThanOrEqual(2);
    // And TX on top: all three.
    b.transmit(50);
    expect(Math.abs(adcMv() - (b.openCircuitMv() - sagMv(m.transmitUa + m.activeUa - m.sleepUa + 60_000))), replay).toBeLessThanOrEqual(2);
  });

  it("capacity varies per device within the stated spread, deterministically per seed", () => {
    const caps = new Set<number>();
    const nominal = 400 * 3_600_000_000;
    for (let s = 0; s < 50; s++) {
      const c = new SimBattery(new VirtualClock(), new SeededRandom(s)).capacityUaMs;
      expect(Math.abs(c - nominal)).toBeLessThanOrEqual(nominal * 0.05);
      expect(new SimBattery(new VirtualClock(), new SeededRandom(s)).capacityUaMs).toBe(c);
      caps.add(c);
    }
    expect(caps.size).toBeGreaterThan(30);
  });

  it("charging raises charge to full and reports the charger state", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { startPermille: 500 });
    expect(b.chargerState()).toBe("discharging");
    b.setCharging(400_000);
    expect(b.chargerState()).toBe("charging");
    clock.advance(3 * 3_600_000);
    expect(b.chargePermille()).toBe(1000);
    expect(b.chargerState()).toBe("full");
  });

  it("dies (regulator cut-off) when drained", () => {
    const clock = new VirtualClock();
    const b = new SimBattery(clock, new SeededRandom(SEED), { startPermille: 10 });
    expect(b.isDead()).toBe(false);
    clock.advance(100 * 3_600_000);
    expect(b.chargePermille()).toBe(0);
    b.active(10);
    expect(b.isDead()).toBe(true);
  });
});

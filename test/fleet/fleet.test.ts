/**
 * The CI fleet (scenarios/ci-200.json): 200 real agents for 3 simulated days under one virtual
 * clock, with a broker outage, a broker restart that loses sessions, link flaps, random power
 * cuts (some in the middle of flash writes), latency, loss, clock faults, drained batteries
 * and an OTA rollout that includes a bad image. One device runs inside XS.
 * Replay: SEED=<seed> npx vitest run test/fleet/fleet.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VirtualFleet } from "../../host-sim/fleet/engine";
import type { FleetSummary } from "../../host-sim/fleet/metrics";
import { closeXs, fleet, loadScenario, seedFromEnv } from "./helpers";

const scenario = loadScenario("ci-200.json");
const SEED = seedFromEnv(scenario.seed!);
const replay = `replay: SEED=${SEED} npx vitest run test/fleet/fleet.test.ts`;

describe(`200 devices × 3 simulated days (seed ${SEED})`, () => {
  let f: VirtualFleet;
  let s: FleetSummary;

  beforeAll(async () => {
    f = await fleet(scenario, { seed: SEED });
    s = f.run();
  }, 300_000);

  afterAll(() => closeXs());

  it("ran one device inside XS (ESP32 stack, Moddable globals) in lockstep with the others", () => {
    expect(f.devices.filter((d) => d.inXs).map((d) => d.id), replay).toEqual(["dev-000199"]);
    expect(f.devices[199].boots, replay).toBeGreaterThan(0);
  });

  it("ran the scenario: every fault kind fired and devices came back", () => {
    expect(s.devices, replay).toBe(200);
    expect(s.simulatedSeconds, replay).toBe((3 * 86_400_000 + scenario.drainMs) / 1000);
    expect(s.faults.brokerOutages, replay).toBe(1);
    expect(s.faults.brokerRestarts, replay).toBe(1);
    expect(s.faults.powerCuts, replay).toBeGreaterThan(100);
    expect(s.faults.linkFlaps, replay).toBeGreaterThan(200);
    // The outage and the restart alone send every device through a reconnect.
    expect(s.reconnects, replay).toBeGreaterThan(2 * 200);
    expect(s.peakReconnectsPerSecond, replay).toBeGreaterThan(0);
    expect(s.telemetry.published, replay).toBeGreaterThan(200 * 3 * 100);
  });

  it("lost no acknowledged telemetry", () => {
    expect(s.telemetry.queueDropped, replay).toBe(0);
    expect(s.telemetry.lost, replay).toBe(0);
    expect(s.telemetry.stranded, replay).toBe(0);
    expect(s.telemetry.delivered, replay).toBe(s.telemetry.published);
    // Per device, too: every sequence number the agent made reached the backend.
    f.books.forEach((b, i) => expect(b.made.countMissingFrom(b.seen), `${f.devices[i].id}; ${replay}`).toBe(0));
  });

  it("bricked no device", () => {
    expect(f.devices.filter((d) => d.state === "bricked").map((d) => d.id), replay).toEqual([]);
    expect(s.ota.bricked, replay).toBe(0);
  });

  it("raised battery alerts for exactly the devices whose simulated battery crossed the threshold", () => {
    const alarmed = f.devices.filter((_, i) => f.books[i].alarmRaised).map((d) => d.id);
    const crossed = f.devices.filter((_, i) => f.books[i].crossedLow).map((d) => d.id);
    expect(alarmed, replay).toEqual(crossed);
    // The weak group (20 devices) and the 4 drained devices cross; the other 176 do not.
    expect(crossed.length, replay).toBe(24);
    // The backend saw each of those alarms in telemetry.
    expect(f.devices.filter((_, i) => f.books[i].alarmSeen).map((d) => d.id), replay).toEqual(crossed);
  });

  it("rolled back every device offered the bad image; updated the others", () => {
    expect(s.ota.offered, replay).toBeGreaterThan(50);
    const bad = f.devices.filter((_, i) => f.books[i].offeredBad);
    expect(bad.length, replay).toBe(12);
    expect(s.ota.rolledBack, replay).toBe(12);
    for (const d of bad) expect(d.version, `${d.id}; ${replay}`).not.toBe(1_002_000);
    expect(s.ota.updated, replay).toBeGreaterThan(0);
    expect(s.checks.find((c) => c.name === "bad-image devices rolled back")?.ok, replay).toBe(true);
  });
});

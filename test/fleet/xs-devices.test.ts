/**
 * Devices inside XS in the fleet (scenarios/xs-lockstep.json): one of four devices runs its
 * slot's image in xsnap-worker with the ESP32 stack and only Moddable's globals, every port call
 * crossing to the fleet's virtual clock, network and flash. Through power cuts (one in a flash
 * write), flaps, a broker restart and an update to an image that hangs, the run must
 * be the same run as with every device on Node: same trace hash, same summary.
 * Replay: SEED=<seed> npx vitest run test/fleet/xs-devices.test.ts
 */
import { afterAll, describe, expect, it } from "vitest";
import type { FleetSummary } from "../../host-sim/fleet/metrics";
import { closeXs, fleet, loadScenario, seedFromEnv, xsRunner } from "./helpers";

const scenario = loadScenario("xs-lockstep.json");
const SEED = seedFromEnv(scenario.seed!);
const replay = `replay: SEED=${SEED} npx vitest run test/fleet/xs-devices.test.ts`;
const comparable = (s: FleetSummary) => ({ ...s, wallSeconds: 0, deviceHoursPerWallSecond: 0, xs: undefined });

afterAll(() => closeXs());

describe(`devices inside XS, in lockstep (seed ${SEED})`, () => {
  it("1 of 4 devices in XS: the same trace hash and summary as all on Node", async () => {
    const node = (await fleet(scenario, { seed: SEED, xs: { runner: (await xsRunner()).runner, devices: 0 } })).run();
    const f = await fleet(scenario, { seed: SEED });
    const xs = f.run();
    // The XS device is in group b, which gets the hanging image.
    expect(f.devices.filter((d) => d.inXs).map((d) => `${d.id} ${d.group.name}`), replay).toEqual(["dev-000003 b"]);
    // The run is about something: faults fired, the hung image was reset by the watchdog and rolled back.
    expect(node.faults.powerCuts, replay).toBeGreaterThan(0);
    expect(node.faults.linkFlaps, replay).toBeGreaterThan(0);
    expect(node.ota.rolledBack, replay).toBe(2);
    expect(node.faults.watchdogResets, replay).toBeGreaterThan(0);
    for (const c of node.checks) expect(c.ok, `${c.name}: ${c.detail}; ${replay}`).toBe(true);
    expect(xs.xs, replay).toBeUndefined(); // set by runSimulation, not the engine
    expect(xs.traceHash, replay).toBe(node.traceHash);
    expect(comparable(xs), replay).toEqual(comparable(node));
  }, 900_000);
});

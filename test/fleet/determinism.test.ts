/**
 * Same seed + scenario ⇒ same run, to the trace hash, with every fault kind and an OTA
 * rollout (scenarios/faults-small.json); another seed ⇒ another run.
 * Replay: SEED=<seed> npx vitest run test/fleet/determinism.test.ts
 */
import { describe, expect, it } from "vitest";
import type { FleetSummary } from "../../host-sim/fleet/metrics";
import { fleet, loadScenario, seedFromEnv } from "./helpers";

const scenario = loadScenario("faults-small.json");
const SEED = seedFromEnv(scenario.seed!);
const replay = `replay: SEED=${SEED} npx vitest run test/fleet/determinism.test.ts`;

const run = async (seed: number): Promise<FleetSummary> => (await fleet(scenario, { seed })).run();
let first: Promise<FleetSummary> | undefined;
const firstRun = () => (first ??= run(SEED));
const withoutWall = (s: FleetSummary) => ({ ...s, wallSeconds: 0, deviceHoursPerWallSecond: 0 });

describe(`determinism (seed ${SEED})`, () => {
  it("the same seed gives the same trace hash and summary, faults and OTA included", async () => {
    const a = await firstRun();
    const b = await run(SEED);
    // The run exercised what the hash must cover.
    expect(a.faults.powerCuts, replay).toBeGreaterThan(0);
    expect(a.faults.linkFlaps, replay).toBeGreaterThan(0);
    expect(a.faults.brokerOutages + a.faults.brokerRestarts, replay).toBe(2);
    expect(a.ota.updated, replay).toBeGreaterThan(0);
    expect(a.ota.rolledBack, replay).toBe(5);
    expect(a.battery.dead, replay).toBeGreaterThan(0);
    expect(a.traceEvents, replay).toBeGreaterThan(10_000);
    expect(b.traceHash, replay).toBe(a.traceHash);
    expect(withoutWall(b), replay).toEqual(withoutWall(a));
  }, 60_000);

  it("another seed gives another run", async () => {
    const a = await firstRun();
    const c = await run(SEED + 1);
    expect(c.traceHash, replay).not.toBe(a.traceHash);
  }, 60_000);
});

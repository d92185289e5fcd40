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
/**
 * The runs are CPU-bound and end by themselves (one simulated day): the timeout only catches a
 * hang. This file costs about 19 CPU-s here (three runs and the firmware build: 40 s of wall at
 * load average 10); the first test, two runs, once took 66 s on a busier machine. 180 s leaves
 * that worst case a margin of almost 3.
 */
const TIMEOUT_MS = 180_000;

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
  }, TIMEOUT_MS);

  it("another seed gives another run", async () => {
    const a = await firstRun();
    const c = await run(SEED + 1);
    expect(c.traceHash, replay).not.toBe(a.traceHash);
  }, TIMEOUT_MS);
});

/**
 * Power cut at every flash erase and write of a full update and of rollbacks, each plain and
 * torn (1 byte, half, all but one byte landed), then reboots through the reference bootloader
 * until the device settles; plus every pair of cuts for the update, and seeded random multi-cut
 * runs. Invariants: see cut-runner.ts. The totals are printed for the report.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SeededRandom } from "../../host-sim/virtual/random";
import { runWithCuts, variants, type Cut, type Scenario } from "./cut-runner";
import { seedFromEnv } from "./fixtures";
import { idfUpdateScenario, crashRollbackScenario, healthRollbackScenario, updateAfterRollbackScenario, updateScenario } from "./scenarios";

const counts: Record<string, number> = {};
afterAll(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`power-cut runs: ${JSON.stringify(counts)} total ${total}`);
});

function sweep(make: () => Scenario, expectOutcome: "updated" | "rolled-back" | "either") {
  const sc = make();
  const clean = runWithCuts(sc, []);
  expect(clean.violations).toEqual([]);
  expect(clean.outcome).toBe(expectOutcome === "either" ? "updated" : expectOutcome);
  const ops = clean.ops.slice(0, clean.ops.length); // includes the extra boot (none: it writes nothing)
  let runs = 0;
  const failures: string[] = [];
  for (const op of ops) {
    for (const torn of variants(op)) {
      const run = runWithCuts(sc, [{ seq: op.seq, tornBytes: torn }]);
      runs++;
      const bad = [...run.violations];
      if (!run.boots.some((b) => b.end === "power-cut")) bad.push("the cut never happened");
      if (expectOutcome !== "either" && run.outcome !== expectOutcome) bad.push(`outcome ${run.outcome}, want ${expectOutcome}`);
      if (bad.length) failures.push(`${sc.name} cut at op #${op.seq} ${op.kind} ${op.partition}+${op.offset} torn ${torn}: ${bad.join("; ")}`);
    }
  }
  counts[`${sc.name} (${ops.length} ops)`] = runs;
  expect(failures.slice(0, 10)).toEqual([]);
  expect(ops.length).toBeGreaterThan(10);
}

describe("power cut at every flash operation", () => {
  it("full update: every single cut, plain and torn, still completes the update", () => sweep(updateScenario, "updated"));
  it("rollback after a failed health check: every cut still ends cleanly rolled back", () => sweep(healthRollbackScenario, "rolled-back"));
  it("rollback after a crash loop: every cut still ends cleanly rolled back", () => sweep(crashRollbackScenario, "rolled-back"));
  it("update into a slot that holds an aborted image: every cut still completes", () => sweep(updateAfterRollbackScenario, "updated"));

  it("ESP-IDF trial rule (N = 1): every cut completes or cleanly rolls back", () => sweep(idfUpdateScenario, "either"));

  it("full update: every pair of cuts (each plain or torn in half) completes or cleanly rolls back", () => {
    const sc = updateScenario();
    const clean = runWithCuts(sc, []);
    let runs = 0;
    const failures: string[] = [];
    const outcomes = { updated: 0, "rolled-back": 0 };
    for (const op of clean.ops) {
      for (const torn of [0, op.length >> 1]) {
        const first: Cut = { seq: op.seq, tornBytes: torn };
        const once = runWithCuts(sc, [first]);
        for (const second of once.ops.filter((o) => o.seq > op.seq)) {
          for (const torn2 of [0, second.length >> 1]) {
          const run = runWithCuts(sc, [first, { seq: second.seq, tornBytes: torn2 }]);
          runs++;
          outcomes[run.outcome]++;
          if (run.violations.length) failures.push(`cuts at #${op.seq}/${torn} and #${second.seq}/${torn2}: ${run.violations.join("; ")}`);
          }
        }
      }
    }
    counts["update pairs"] = runs;
    console.log(`pair outcomes: ${JSON.stringify(outcomes)}`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(runs).toBeGreaterThan(200);
  });

  it("seeded random multi-cut runs end updated or cleanly rolled back", () => {
    const seed = seedFromEnv(Date.now() % 1_000_000);
    const rnd = new SeededRandom(seed);
    const makers = [idfUpdateScenario, updateScenario, healthRollbackScenario, crashRollbackScenario, updateAfterRollbackScenario];
    const scenarios = makers.map((m) => m());
    const lengths = scenarios.map((sc) => runWithCuts(sc, []).ops.length);
    let runs = 0;
    const failures: string[] = [];
    for (let i = 0; i < 400; i++) {
      const k = rnd.below(scenarios.length);
      const sc = scenarios[k];
      const n = 1 + rnd.below(5);
      const cuts: Cut[] = [];
      let seq = 0;
      for (let c = 0; c < n; c++) {
        seq += 1 + rnd.below(Math.max(1, Math.ceil(lengths[k] / n)));
        cuts.push({ seq, tornBytes: rnd.below(40) < 20 ? 0 : rnd.below(4096) });
      }
      const run = runWithCuts(sc, cuts, 60);
      runs++;
      if (run.violations.length) failures.push(`${sc.name} cuts ${JSON.stringify(cuts)}: ${run.violations.join("; ")}`);
    }
    counts["random multi-cut"] = runs;
    if (failures.length) console.error(`power-cut random runs failed with SEED=${seed}; replay: SEED=${seed} npx vitest run test/ota/power-cut.test.ts -t random`);
    expect(failures.slice(0, 5), `SEED=${seed}`).toEqual([]);
  });
});

/**
 * Runs XS cost scenarios (test/xs/scenarios/*-cost or -cycle ones that emit `<name> <number>` lines)
 * in xsnap and prints their metrics and total computrons as one JSON line. Computrons are
 * deterministic, so one run per checkout compares two builds (bench/lib/ab-xs.mjs does).
 *
 *   node scripts/run-ts.mjs bench/lib/xs-scenario-cost.ts link-codec-cost telemetry-cycle
 */
import { xsComputrons } from "./measure";

const out: Record<string, { computrons: number; metrics: Record<string, number> }> = {};
for (const name of process.argv.slice(2)) {
  const cost = await xsComputrons(new URL(`../../test/xs/scenarios/${name}.scenario.ts`, import.meta.url));
  out[name] = { computrons: cost.computrons, metrics: cost.metrics };
}
console.log(JSON.stringify(out));

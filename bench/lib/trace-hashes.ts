/**
 * Trace hashes of a few scenarios (every fault kind, OTA, hostile publishers, the CI fleet), so a
 * speed change can be checked against a baseline checkout: same code path, same seed, same hash.
 *
 *   node scripts/run-ts.mjs bench/lib/trace-hashes.ts            # prints { scenario: hash }
 *   diff <(node scripts/run-ts.mjs bench/lib/trace-hashes.ts) <(cd BASE && node scripts/run-ts.mjs bench/lib/trace-hashes.ts)
 */
import { scenarioFleet } from "./scenario-fleet";

const NAMES = ["faults-small.json", "ci-200.json", "hostile-withdrawn-offer.json", "hostile-retained-poison.json", "hostile-oversized.json"];

for (const name of process.argv.slice(2).length > 0 ? process.argv.slice(2) : NAMES) {
  const fleet = await scenarioFleet(name);
  const s = fleet.run();
  console.log(`${name} ${s.traceHash} events=${s.traceEvents} published=${s.telemetry.published} lost=${s.telemetry.lost}`);
}

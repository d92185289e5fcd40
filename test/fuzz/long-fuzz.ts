/**
 * The long fuzz run: `npm run fuzz` (= node scripts/run-ts.mjs test/fuzz/long-fuzz.ts).
 * FUZZ_INPUTS (default 5,000,000) parser inputs and a 1/50 share through the client,
 * in batches with fresh seeds; prints the seed of each batch so a failure can be replayed.
 */
import { fuzzClient, fuzzParser, type FuzzStats } from "./mqtt-fuzz";
import { testSeed } from "../helpers/seed";

const total = Number(process.env.FUZZ_INPUTS ?? 5_000_000);
const base = testSeed();
const BATCH = 100_000;
const stats: FuzzStats = { inputs: 0, packets: 0, errors: 0, reasons: new Map() };
const t0 = performance.now();
for (let b = 0; stats.inputs < total; b++) {
  const seed = (base + b) >>> 0;
  try {
    fuzzParser(seed, Math.min(BATCH, total - stats.inputs), stats);
    fuzzClient(seed, BATCH / 50);
  } catch (e) {
    console.error(String(e));
    console.error(`replay: SEED=${seed} FUZZ_INPUTS=${BATCH} npm run fuzz`);
    process.exit(1);
  }
  console.log(`batch seed ${seed}: ${stats.inputs} inputs, ${stats.packets} packets, ${stats.errors} rejected`);
}
console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s; rejection reasons:`);
for (const [k, v] of [...stats.reasons].sort((a, b) => b[1] - a[1])) console.log(`  ${v}\t${k}`);

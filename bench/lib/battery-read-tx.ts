/**
 * How often a device's battery read lands while its radio is sending something else (a keep-alive
 * PINGREQ, the PUBACK of a config or command, an outbox drain after a reconnect, a download's
 * acks): counts, per scenario, every ADC read of every device and how many found a radio burst
 * (or an outside load: a fault's drain) drawing at that instant. The report's own TX is already
 * kept out (the reporter reads before it). Measurement only: the run and its trace hash are the
 * same as without this script.
 *
 *   node scripts/run-ts.mjs bench/lib/battery-read-tx.ts [scenario.json ...]   # default faults-small.json
 */
import { SimBattery } from "../../host-sim/battery/sim-battery";
import { scenarioFleet } from "./scenario-fleet";

const counts = { reads: 0, duringTx: 0, duringOtherLoad: 0 };
const read = SimBattery.prototype.read;
SimBattery.prototype.read = function (this: SimBattery): number {
  counts.reads++;
  if (this.busy("radio")) counts.duringTx++;
  if (this.busy("other")) counts.duringOtherLoad++;
  return read.call(this);
};

for (const name of process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["faults-small.json"]) {
  counts.reads = counts.duringTx = counts.duringOtherLoad = 0;
  const fleet = await scenarioFleet(name);
  const s = fleet.run();
  const permille = (n: number) => Math.round((n * 10000) / Math.max(1, counts.reads)) / 10;
  console.log(
    `${name} ${s.traceHash} reads=${counts.reads} duringTx=${counts.duringTx} (${permille(counts.duringTx)} ‰) ` +
      `duringOtherLoad=${counts.duringOtherLoad} (${permille(counts.duringOtherLoad)} ‰)`,
  );
}

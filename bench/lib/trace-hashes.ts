/**
 * Trace hashes of a few scenarios (every fault kind, OTA, hostile publishers, the CI fleet), so a
 * speed change can be checked against a baseline checkout: same code path, same seed, same hash.
 *
 *   node scripts/run-ts.mjs bench/lib/trace-hashes.ts            # prints { scenario: hash }
 *   diff <(node scripts/run-ts.mjs bench/lib/trace-hashes.ts) <(cd BASE && node scripts/run-ts.mjs bench/lib/trace-hashes.ts)
 */
import { readFileSync } from "node:fs";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { parseScenario } from "../../host-sim/fleet/scenario";

const ROOT = new URL("../..", import.meta.url).pathname;
const NAMES = ["faults-small.json", "ci-200.json", "hostile-withdrawn-offer.json", "hostile-retained-poison.json", "hostile-oversized.json"];

for (const name of process.argv.slice(2).length > 0 ? process.argv.slice(2) : NAMES) {
  const scenario = parseScenario(readFileSync(`${ROOT}scenarios/${name}`, "utf8"), name);
  if ((scenario.xsDevices ?? 0) > 0) scenario.xsDevices = 0; // Node only: the hash is the same with devices in XS
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const fleet = new VirtualFleet({
    devices: scenario.devices ?? 10,
    durationMs: scenario.durationMs ?? 86_400_000,
    seed: scenario.seed ?? 1,
    scenario,
    library,
    sha256: nodeSha256,
  });
  const s = fleet.run();
  console.log(`${name} ${s.traceHash} events=${s.traceEvents} published=${s.telemetry.published} lost=${s.telemetry.lost}`);
}

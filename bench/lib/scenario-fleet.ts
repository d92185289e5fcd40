/** A fleet for one scenario file as `tether sim` runs it, on Node only (the bench/lib scripts' common start). */
import { readFileSync } from "node:fs";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { parseScenario } from "../../host-sim/fleet/scenario";

const ROOT = new URL("../..", import.meta.url).pathname;

/** `name`: a file under scenarios/. Devices in XS run on Node instead: the trace hash is the same. */
export async function scenarioFleet(name: string): Promise<VirtualFleet> {
  const scenario = parseScenario(readFileSync(`${ROOT}scenarios/${name}`, "utf8"), name);
  if ((scenario.xsDevices ?? 0) > 0) scenario.xsDevices = 0;
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  return new VirtualFleet({
    devices: scenario.devices ?? 10,
    durationMs: scenario.durationMs ?? 86_400_000,
    seed: scenario.seed ?? 1,
    scenario,
    library,
    sha256: nodeSha256,
  });
}

/**
 * One `--broker virtual` fleet run for profiling (not a bench): prints CPU seconds, messages,
 * CPU µs per message and the trace hash, so two builds can be compared on a loaded machine.
 *
 *   node --cpu-prof scripts/run-ts.mjs bench/lib/profile-fleet.ts [devices] [hours] [seed]
 */
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { validateScenario } from "../../host-sim/fleet/scenario";

const [devices = 1000, hours = 2, seed = 1] = process.argv.slice(2).map(Number);
const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" } }] });
const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
const cpu0 = process.cpuUsage();
const fleet = new VirtualFleet({ devices, durationMs: hours * 3_600_000, seed, scenario, library, sha256: nodeSha256, wallNow: () => performance.now() });
const s = fleet.run();
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(JSON.stringify({
  devices, hours, seed,
  messages: s.telemetry.published, lost: s.telemetry.lost,
  cpuSeconds: Number(cpuSeconds.toFixed(2)),
  cpuMicrosPerMessage: Number(((cpuSeconds * 1e6) / s.telemetry.published).toFixed(1)),
  wallSeconds: Number(s.wallSeconds.toFixed(2)),
  heapMB: Math.round(process.memoryUsage().heapUsed / 1e6),
  traceHash: s.traceHash,
}));

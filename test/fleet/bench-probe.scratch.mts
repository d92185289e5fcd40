import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { runVirtualFleet } from "../../host-sim/fleet/engine";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { nodeSha256 } from "../../device/platform/node/sha256";
const N = Number(process.argv[2] ?? 1000), H = Number(process.argv[3] ?? 2);
const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" }, powerModel: process.argv[4] !== "nopower" }] });
const lib = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
const s = runVirtualFleet({ devices: N, durationMs: H * 3600_000, seed: 1, scenario, library: lib, sha256: nodeSha256, wallNow: () => performance.now() });
console.log(N, H, "wall", s.wallSeconds.toFixed(1), "dev-h/s", s.deviceHoursPerWallSecond.toFixed(0), "msgs", s.telemetry.published, "msg/s", (s.telemetry.published / s.wallSeconds).toFixed(0), "heapMB", (process.memoryUsage().heapUsed/1e6).toFixed(0));

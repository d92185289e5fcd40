import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { nodeSha256 } from "../../device/platform/node/sha256";
const scenario = validateScenario({ drain: "10m", groups: [{ telemetry: { reportInterval: "1m" } }], faults: [{kind: "flash-error", at: "29m", for: "10m", permille: 30}], ota: [{ at: "30m", firmware: "1.1.0", devices: {count: 1} }, { at: "3h", firmware: "1.2.0", bad: "crash", devices: {count: 1} }] });
const lib = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
class F extends VirtualFleet {
  onAgentEvent(dev: any, e: any) { if (e.type === "ota" || e.type === "error" || e.type === "boot") console.log((this.clock.now()/60000).toFixed(1), dev.id, e.type, JSON.stringify(e.status ?? e.message ?? e)); super.onAgentEvent(dev, e); }
  onLifecycle(dev: any, what: any, x: number) { console.log((this.clock.now()/60000).toFixed(1), dev.id, "LIFE", what, x, dev.slot, dev.version); super.onLifecycle(dev, what, x); }
}
const origFault = (await import("../../host-sim/fleet/device")).FleetDevice.prototype.fault;
(await import("../../host-sim/fleet/device")).FleetDevice.prototype.fault = function (e: any) { console.log("FAULT", this.id, e?.name, e?.message, e?.stack?.split("\n").slice(0,4).join(" | ")); return origFault.call(this, e); };
const f = new F({ devices: 2, durationMs: 5 * 3600_000, seed: 3, scenario, library: lib, sha256: nodeSha256 });
const s = f.run();
console.log(JSON.stringify(s.ota), s.checks.map(c => c.ok + " " + c.name + " " + c.detail));

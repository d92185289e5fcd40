// scenarios/rollout-good-small.json: a good release (1.3.1, no worse than 1.3.0) must reach every
// device without the health comparison halting it. Before the fixes it was halted by worse-gaps
// (host-sim devices' uptime did not restart at a reboot, so the service missed the OTA restart and
// counted the new boot's sequence skip as lost batches) and, with that fixed, by worse-battery
// (the devices left on the old version were nearly flat batteries in low-battery mode, and
// drain estimates right after an update were compared with long-running ones).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { versionNumber } from "../../device/core/ota/version";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { runFleetWithService } from "../../host-sim/fleet/service-run";

const FILE = "scenarios/rollout-good-small.json";

describe("rollout-good: the health comparison does not halt a good release", () => {
  it("1.3.1 completes on every device although the devices left behind are low-battery ones", async () => {
    const scenario = validateScenario(JSON.parse(readFileSync(FILE, "utf8")));
    const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
    const fleet = new VirtualFleet({ devices: scenario.devices!, durationMs: scenario.durationMs!, seed: scenario.seed!, scenario, library, sha256: nodeSha256 });
    const chargerAt = fleet.devices.find((d) => d.group.charger)!.group.charger!.atMs;
    // Until the drain fault starts, the low-battery third sits at ~33 % true: its reports (the
    // trial boot's first one included) must say so. The restart after the 1.3.0 download used to
    // boot into the radio's leftover TX: the new boot primed its readings in the sag and reported
    // 18 % with a low alarm at 32.6 % true.
    const drainAt = scenario.faults.find((f) => f.kind === "battery-drain")!.at;
    const lowIds = new Map(fleet.devices.filter((d) => d.group.name === "low-battery").map((d) => [d.id, d]));
    const misread: string[] = [];
    fleet.broker.subscribeInternal("tether/+/telemetry", (_t, p) => {
      const b = decodeTelemetryBatch(p);
      const d = lowIds.get(b.deviceId);
      if (!d || fleet.clock.now() >= drainAt || !b.battery) return;
      const truePct = d.battery.chargePermille() / 10;
      if (Math.abs(b.battery.pct - truePct) > 3 || b.battery.alarm !== "none") misread.push(`${d.id} ${b.firmware} up ${b.uptimeMs} ms: ${b.battery.pct} % ${b.battery.alarm} at ${truePct} % true`);
    });
    const { summary, rollouts } = runFleetWithService(fleet);
    const replay = `replay: npx tether sim --scenario ${FILE} --quiet`;
    const [first, good] = rollouts;
    expect(first.status, replay).toBe("completed");
    expect(good.haltRule, replay).toBeUndefined();
    expect(good.status, replay).toBe("completed");
    const fixed = versionNumber("1.3.1");
    expect(fleet.devices.filter((d) => d.version !== fixed).map((d) => d.id), replay).toEqual([]);
    // The low-battery devices were the control group until their chargers came: updated only after.
    const low = fleet.devices.filter((d) => d.group.name === "low-battery");
    expect(low.length).toBeGreaterThan(10);
    for (const d of low) expect(fleet.firmware.firstBoot("1.3.1", d.index), d.id).toBeGreaterThanOrEqual(chargerAt);
    expect(summary.checks.filter((c) => !c.ok)).toEqual([]);
    expect(misread.slice(0, 5), `${misread.length} misread reports; ${replay}`).toEqual([]);
  }, 300_000); // ~20-45 CPU-s; the wall time grows with the shared machine's load
});

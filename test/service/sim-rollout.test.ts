// The fleet service inside a virtual fleet of real agents (their code booted from simulated
// flash by the reference bootloader), on the virtual broker under the virtual clock: a build
// that crashes at start-up is caught by the canary and the rollout halts by itself (rule a),
// then a fixed build reaches every device; a service killed mid-rollout resumes it.
import { describe, expect, it } from "vitest";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary } from "../../host-sim/fleet/images";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { attachFleetService, SIM_EPOCH_MS } from "../../host-sim/fleet/service-run";
import type { RolloutSpec } from "../../service/rollouts/spec";

const DEVICES = 30;
const HOUR = 3_600_000;

function spec(bundle: string, over: Partial<RolloutSpec> = {}): Omit<RolloutSpec, "version" | "hardwareId" | "rollbackVersion"> {
  return {
    bundle, target: "firmware < 1.3.1", canary: 5, waves: [50, 100], ratePerMinute: 600, maxFailurePct: 20, minExecuted: 5,
    timeoutMs: 2 * HOUR, soakMs: HOUR, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3,
    health: { marginPct: 20, minDevices: 10, alpha: 0.001 }, ...over,
  };
}

describe("fleet service in a virtual fleet", () => {
  it("halts a crashing build at the canary, then rolls the fixed one out to every device", async () => {
    const scenario = validateScenario({ groups: [{ firmware: "1.2.0", telemetry: { reportInterval: "5m" } }] });
    const library = await buildFirmwareLibrary([{ version: "1.2.0" }, { version: "1.3.0", bad: "crash" }, { version: "1.3.1" }], nodeSha256);
    const fleet = new VirtualFleet({ devices: DEVICES, durationMs: 30 * HOUR, seed: 7, scenario, library, sha256: nodeSha256 });
    const sim = attachFleetService(fleet);
    const ids: string[] = [];
    let killedAt = -1;
    fleet.clock.setTimeout(() => ids.push(sim.service.rollouts.create(spec("sim:1.3.0:crash")).id), HOUR);
    fleet.clock.setTimeout(() => {
      sim.service.rollouts.command(ids[0], "cancel");
      ids.push(sim.service.rollouts.create(spec("sim:1.3.1")).id);
    }, 8 * HOUR);
    // Kill the service once the fixed rollout is past its canary; a new one resumes from the database.
    const killCheck = () => {
      const s = ids[1] ? (sim.service.rollouts.status(ids[1]) as { wave: number }) : undefined;
      if (s && s.wave >= 1 && killedAt < 0) {
        killedAt = fleet.clock.now();
        sim.restart();
      } else if (killedAt < 0) fleet.clock.setTimeout(killCheck, 60_000);
    };
    fleet.clock.setTimeout(killCheck, 8 * HOUR);
    const summary = fleet.run();

    const bad = sim.service.rollouts.status(ids[0]) as any;
    expect(bad.status).toBe("cancelled");
    const halted = sim.service.rollouts.store.events(ids[0], 50).find((e) => e.kind === "halted") as { detail: any; at: number } | undefined;
    expect(halted?.detail.rule).toBe("failure-rate");
    // Only the canary ever got 1.3.0, and every one of them rolled back.
    const offeredBad = sim.service.rollouts.devices(ids[0]).filter((d) => d.offers > 0);
    expect(offeredBad.length).toBeLessThanOrEqual(5);
    expect(offeredBad.map((d) => `${d.state}:${d.result}:${d.cause}`)).toEqual(Array(offeredBad.length).fill("rolled-back:105:3")); // 105, cause crash
    expect(halted!.at - SIM_EPOCH_MS - HOUR).toBeLessThan(2 * HOUR);

    const good = sim.service.rollouts.status(ids[1]) as any;
    // The health comparison ran on real data and found nothing worse (no false halt).
    expect(good.halt).toBeNull();
    expect(killedAt).toBeGreaterThan(0);
    expect(good.status, JSON.stringify({ counts: good.counts, wave: good.wave, events: good.events, killedAt: killedAt - SIM_EPOCH_MS })).toBe("completed");
    expect(good.counts).toMatchObject({ total: DEVICES, succeeded: DEVICES });
    expect(sim.service.rollouts.devices(ids[1]).every((d) => d.offers === 1)).toBe(true);
    expect(sim.service.registry.list({ limit: 100, offset: 0, firmware: "1.3.1" }).total).toBe(DEVICES);
    expect(summary.checks.find((c) => c.name === "no device bricked")?.ok).toBe(true);
    await sim.close();
  }, 300_000);
});

describe("scenario key rollouts (tether sim)", () => {
  it("runs scenarios/rollout-small.json: the crashing build halts at its canary, the fixed one completes", async () => {
    const { readFileSync } = await import("node:fs");
    const { parseScenario } = await import("../../host-sim/fleet/scenario");
    const { runSimulation } = await import("../../host-sim/fleet/run");
    const scenario = parseScenario(readFileSync(new URL("../../scenarios/rollout-small.json", import.meta.url), "utf8"), "rollout-small.json");
    const summary = await runSimulation({ devices: scenario.devices!, durationMs: scenario.durationMs!, seed: scenario.seed!, scenario, shards: 1 });
    const [bad, good] = summary.rollouts as { status: string; haltRule?: string; offered: number; counts: { succeeded: number } }[];
    expect(bad).toMatchObject({ status: "cancelled", haltRule: "failure-rate" });
    expect(bad.offered).toBeLessThanOrEqual(5);
    expect(good).toMatchObject({ status: "completed", offered: 40, counts: { succeeded: 40 } });
  }, 300_000);
});

// scenarios/rollout-bad-small.json (the 300-device version of scenarios/rollout-bad.json): the
// fleet service, inside the simulation, must halt 1.3.0 by itself (it crashes at start on 30 % of
// hardware revision B and drains 40 % faster elsewhere) before more than 2 % of the fleet ran it;
// then 1.3.1 reaches every device: low-battery ones only after their charger is plugged in,
// the away group only after it comes back. Also: the scenario keys are validated with clear errors.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { versionNumber } from "../../device/core/ota/version";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { deviceHardware } from "../../host-sim/fleet/firmware-behaviour";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { ScenarioError, validateScenario } from "../../host-sim/fleet/scenario";
import { runFleetWithService } from "../../host-sim/fleet/service-run";

const HOUR = 3_600_000;
const FILE = "scenarios/rollout-bad-small.json";

function problems(json: unknown): string[] {
  try {
    validateScenario(json);
    return [];
  } catch (e) {
    if (e instanceof ScenarioError) return e.problems;
    throw e;
  }
}

describe("rollout-bad: a version bad on part of the hardware", () => {
  it("halts 1.3.0 by itself, then 1.3.1 reaches every device, deferred ones after recharge or return", async () => {
    const json = JSON.parse(readFileSync(FILE, "utf8"));
    const scenario = validateScenario(json);
    const devices = scenario.devices!;
    const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
    const fleet = new VirtualFleet({ devices, durationMs: scenario.durationMs!, seed: scenario.seed!, scenario, library, sha256: nodeSha256 });
    const groupOf = (i: number) => fleet.devices[i].group.name;
    const chargerAt = fleet.devices.find((d) => d.group.charger)!.group.charger!.atMs;
    const fix = scenario.rollouts[1].atMs;

    const { summary, rollouts } = runFleetWithService(fleet);
    const [bad, good] = rollouts;
    const replay = `replay: npx tether sim --scenario ${FILE}`;

    // 1.3.0 halted by itself at its canary (the scenario never cancels it before the fix).
    expect(bad.haltRule, replay).toBe("failure-rate");
    expect(bad.haltAfterMs!).toBeLessThan(fix - bad.createdAtMs);
    expect(bad.devicesRan!).toBeGreaterThan(0);
    expect(bad.devicesRan!, replay).toBeLessThanOrEqual(Math.floor(devices * 0.02));
    // Ground truth: the crashes were on revision B only.
    const crashedOn = fleet.devices.filter((d) => d.crashes > 0).map((d) => d.hardware);
    expect(crashedOn.length).toBeGreaterThan(0);
    expect(new Set(crashedOn)).toEqual(new Set(["B"]));

    // 1.3.1 completed, no halt, and every device runs it.
    expect(good.status, replay).toBe("completed");
    expect(good.haltRule).toBeUndefined();
    const fixed = versionNumber("1.3.1");
    const notFixed = fleet.devices.filter((d) => d.state !== "dead" && d.version !== fixed).map((d) => d.id);
    expect(notFixed, replay).toEqual([]);
    expect(fleet.devices.filter((d) => d.state === "dead" || d.state === "bricked")).toEqual([]);

    // Low-battery devices were updated only after the charger came; the away group only after returning.
    const first = (i: number) => fleet.firmware.firstBoot("1.3.1", i)!;
    const low = fleet.devices.filter((d) => groupOf(d.index) === "low-battery");
    const away = fleet.devices.filter((d) => groupOf(d.index) === "away");
    const field = fleet.devices.filter((d) => groupOf(d.index).startsWith("field"));
    expect(low.length).toBeGreaterThan(0);
    expect(away.length).toBeGreaterThan(0);
    for (const d of low) expect(first(d.index), d.id).toBeGreaterThanOrEqual(chargerAt);
    const awayBack = 30 * 60_000 + (scenario.faults[0] as { offMs: number }).offMs;
    for (const d of away) expect(first(d.index), d.id).toBeGreaterThanOrEqual(awayBack);
    // …while the field devices did not wait for them.
    expect(Math.max(...field.map((d) => first(d.index)))).toBeLessThan(chargerAt);
    expect(summary.checks.filter((c) => !c.ok)).toEqual([]);
  }, 300_000); // ~20-45 CPU-s; the wall time grows with the shared machine's load

  it("draws hardware revisions from the group mix", () => {
    const revs = Array.from({ length: 1000 }, (_, i) => deviceHardware({ A: 70, B: 30 }, 1000 + i));
    const b = revs.filter((r) => r === "B").length;
    expect(b).toBeGreaterThan(240);
    expect(b).toBeLessThan(360);
    expect(deviceHardware(undefined, 1)).toBe("A");
  });

  it("refuses bad hardware, charger and firmwareBehaviour entries with their path", () => {
    expect(problems({ groups: [{ hardware: { A: 70, B: 20 } }] })).toEqual(["groups[0].hardware: percents must add up to 100, got 90"]);
    expect(problems({ groups: [{ hardware: 7 }] })[0]).toMatch(/^groups\[0\]\.hardware: expected a revision name/);
    expect(problems({ groups: [{ charger: { at: "soon", ua: 0 } }] })).toEqual([
      'groups[0].charger.at: expected a duration like "20h", got "soon"',
      "groups[0].charger.ua: expected a charger current in µA (1..5000000), got 0",
    ]);
    expect(problems({ groups: [{ hardware: "A" }], firmwareBehaviour: { "1.3.0": { crashAtStart: { hardware: "B", percent: 30 } } } })).toEqual([
      'firmwareBehaviour.1.3.0.crashAtStart.hardware: expected a revision some group has (A), got "B"',
    ]);
    expect(problems({ firmwareBehaviour: { "1.3.0": { drainFactor: 40 } } })).toEqual([
      "firmwareBehaviour.1.3.0.drainFactor: expected a factor in 0.1..10 (1.4 = 40 % faster), got 40",
    ]);
    expect(problems({ firmwareBehaviour: { latest: { crash: true } } })).toEqual([
      'firmwareBehaviour.latest: expected a version "MAJOR.MINOR.PATCH" as key',
      "firmwareBehaviour.latest.crash: unknown key (allowed: crashAtStart, drainFactor)",
    ]);
  });
});

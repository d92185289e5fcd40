/** Shared pieces of the fleet tests: scenario loading, firmware built once per test file. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet, type VirtualFleetOptions } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary } from "../../host-sim/fleet/images";
import type { FirmwareLibrary } from "../../host-sim/fleet/library";
import { firmwareRequests } from "../../host-sim/fleet/run";
import { parseScenario, type Scenario } from "../../host-sim/fleet/scenario";
import { testSeed } from "../helpers/seed";
import { prepareXsRunner } from "../../host-sim/xs/prepare";

export const ROOT = new URL("../..", import.meta.url).pathname;

export function loadScenario(name: string): Scenario {
  return parseScenario(readFileSync(join(ROOT, "scenarios", name), "utf8"), name);
}

const libraries = new Map<string, Promise<FirmwareLibrary>>();

/** The real agent builds a scenario names (cached per firmware set within a test file). */
export function libraryFor(scenario: Scenario): Promise<FirmwareLibrary> {
  const reqs = firmwareRequests(scenario);
  const key = JSON.stringify(reqs);
  let lib = libraries.get(key);
  if (!lib) libraries.set(key, (lib = buildFirmwareLibrary(reqs, nodeSha256)));
  return lib;
}

/** Seed from SEED (for replays), else `fallback`. */
export function seedFromEnv(fallback: number): number {
  return testSeed(fallback);
}

let sharedXs: ReturnType<typeof prepareXsRunner> | undefined;

/** The XS runner the scenarios with xsDevices use (one per test file; closeXs() in afterAll). */
export function xsRunner(): ReturnType<typeof prepareXsRunner> {
  return (sharedXs ??= prepareXsRunner());
}

export async function closeXs(): Promise<void> {
  const r = sharedXs;
  sharedXs = undefined;
  (await r)?.close();
}

export async function fleet(scenario: Scenario, o: Partial<VirtualFleetOptions> = {}): Promise<VirtualFleet> {
  const xsDevices = o.xs?.devices ?? scenario.xsDevices ?? 0;
  return new VirtualFleet({
    ...(xsDevices > 0 ? { xs: { runner: (await xsRunner()).runner, devices: xsDevices } } : {}),
    devices: scenario.devices ?? 10,
    durationMs: scenario.durationMs ?? 86_400_000,
    seed: scenario.seed ?? 1,
    scenario,
    library: await libraryFor(scenario),
    sha256: nodeSha256,
    ...o,
  });
}

/** Starting states for the power-cut suite, for either boot model. */
import type { BootModelName } from "../../host-sim/boot/boot-models";
import { bootModel } from "../../host-sim/boot/boot-models";
import { backendFor, BLOCK, bundle, factory, rig, sha256 } from "./fixtures";
import type { Scenario } from "./cut-runner";

/** 7 blocks (6 full + 1 partial): every erase and write of them is a cut point. */
const size = 6 * BLOCK + 1000;

/**
 * A device in the field running v1: factory-flashed and booted once (on ESP-IDF the first boot
 * writes the first otadata entry; that is the factory's business, not an update's cut point).
 */
function fieldDevice(model: BootModelName) {
  const d = factory(1, undefined, undefined, model);
  const booted = bootModel(model).boot(d.flash, sha256);
  if (!booted.ok) throw new Error(`setup: factory device does not boot: ${booted.reason}`);
  return d;
}

/** v1 in slot 0 takes a good v2 into slot 1. */
export function updateScenario(model: BootModelName = "reference"): Scenario {
  const { flash, kv } = fieldDevice(model);
  return { name: "update", model, flash, kv, backend: backendFor(bundle(2, { securityCounter: 2, size })), behaviour: () => "good", from: 1, to: 2 };
}

/** v2 boots but never passes its health check: the app rolls back. */
export function healthRollbackScenario(model: BootModelName = "reference"): Scenario {
  const { flash, kv } = fieldDevice(model);
  return { name: "rollback-health", model, flash, kv, backend: backendFor(bundle(2, { size })), behaviour: (v) => (v === 2 ? "no-health" : "good"), from: 1, to: 2 };
}

/** v2 crashes at start every time: the bootloader aborts it after N trial boots. */
export function crashRollbackScenario(model: BootModelName = "reference"): Scenario {
  const { flash, kv } = fieldDevice(model);
  return { name: "rollback-crash", model, flash, kv, backend: backendFor(bundle(2, { size })), behaviour: (v) => (v === 2 ? "crash" : "good"), from: 1, to: 2 };
}

/**
 * After v2 was rolled back (slot 1 aborted), v3 arrives: the stale "aborted" state of slot 1
 * must not be mistaken for a rollback of v3 when a cut lands between the trial record and setPending.
 */
export function updateAfterRollbackScenario(model: BootModelName = "reference"): Scenario {
  const { flash, kv } = fieldDevice(model);
  const r = rig(flash, kv, backendFor(bundle(2)), (v) => (v === 2 ? "no-health" : "good"), { bootModel: model });
  const settled = r.runUntilSteady();
  if (settled.version !== 1) throw new Error("setup: v2 did not roll back");
  return { name: "update-after-rollback", model, flash, kv, backend: backendFor(bundle(3, { securityCounter: 2, size })), behaviour: () => "good", from: 1, to: 3 };
}

/**
 * After v2 was rolled back (slot 1 invalid), v3 crashes at start. On ESP-IDF setPending reuses
 * slot 1's ota_seq, and a cut of the ABORTED rewrite erases the entry: the sequence then drops
 * below the one recorded before setPending, which must not read as "never applied".
 */
export function crashAfterRollbackScenario(model: BootModelName = "reference"): Scenario {
  const sc = updateAfterRollbackScenario(model);
  return { ...sc, name: "crash-after-rollback", behaviour: (v) => (v === 3 ? "crash" : "good") };
}

/** The reference bootloader with ESP-IDF's trial rule N = 1: any cut during the trial boot rolls the update back (cleanly). */
export function idfUpdateScenario(): Scenario {
  const { flash, kv } = factory(1);
  return { ...updateScenario(), name: "update-n1", flash, kv, bootloader: { maxTrialBoots: 1 } };
}

export const SCENARIOS = {
  update: updateScenario,
  "rollback-health": healthRollbackScenario,
  "rollback-crash": crashRollbackScenario,
  "update-after-rollback": updateAfterRollbackScenario,
  "crash-after-rollback": crashAfterRollbackScenario,
} as const;

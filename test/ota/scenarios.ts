/** Starting states for the power-cut suite. */
import { backendFor, BLOCK, bundle, factory, rig } from "./fixtures";

/** 7 blocks (6 full + 1 partial): every erase and write of them is a cut point. */
const size = 6 * BLOCK + 1000;
import type { Scenario } from "./cut-runner";

/** v1 in slot 0 takes a good v2 into slot 1. */
export function updateScenario(): Scenario {
  const { flash, kv } = factory(1);
  return { name: "update", flash, kv, backend: backendFor(bundle(2, { securityCounter: 2, size })), behaviour: () => "good", from: 1, to: 2 };
}

/** v2 boots but never passes its health check: the app rolls back. */
export function healthRollbackScenario(): Scenario {
  const { flash, kv } = factory(1);
  return { name: "rollback-health", flash, kv, backend: backendFor(bundle(2, { size })), behaviour: (v) => (v === 2 ? "no-health" : "good"), from: 1, to: 2 };
}

/** v2 crashes at start every time: the bootloader aborts it after N trial boots. */
export function crashRollbackScenario(): Scenario {
  const { flash, kv } = factory(1);
  return { name: "rollback-crash", flash, kv, backend: backendFor(bundle(2, { size })), behaviour: (v) => (v === 2 ? "crash" : "good"), from: 1, to: 2 };
}

/**
 * After v2 was rolled back (slot 1 aborted), v3 arrives: the stale "aborted" state of slot 1
 * must not be mistaken for a rollback of v3 when a cut lands between the trial record and setPending.
 */
export function updateAfterRollbackScenario(): Scenario {
  const { flash, kv } = factory(1);
  const r = rig(flash, kv, backendFor(bundle(2)), (v) => (v === 2 ? "no-health" : "good"));
  const settled = r.runUntilSteady();
  if (settled.version !== 1) throw new Error("setup: v2 did not roll back");
  return { name: "update-after-rollback", flash, kv, backend: backendFor(bundle(3, { securityCounter: 2, size })), behaviour: () => "good", from: 1, to: 3 };
}

/** ESP-IDF's own rule is N = 1: any cut during the trial boot rolls the update back (cleanly). */
export function idfUpdateScenario(): Scenario {
  const { flash, kv } = factory(1);
  return { ...updateScenario(), name: "update-idf-n1", flash, kv, bootloader: { maxTrialBoots: 1 } };
}

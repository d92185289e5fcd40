/**
 * What the rollout runner keeps about a rollout beside the step function, checked on a real
 * FleetService (messages through the ingest):
 * - the ambiguous-rejection retry rule counts successes per stratum (hardware and group labels)
 *   from the rollout's device index, which remembers each succeeded device's stratum; a label
 *   changed through the registry (PATCH /api/devices/ID) must reach that index;
 * - GET /api/rollouts (RolloutRunner.list), which the dashboard's rollouts page asks at each
 *   refresh: a rollout in memory counts from its index; a finished rollout that is not in memory
 *   (after a restart) has its devices read once, not every rollout's devices on every call.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeStatus } from "../../device/core/ota/status";
import { encodeTelemetryBatch } from "../../device/core/telemetry/record";
import type { ServiceClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { DEFAULTS } from "../../service/rollouts/spec";
import { batch } from "../health/helpers";
import { NullTransport } from "../health/chromium";
import { tempDir } from "../helpers/temp";
import { makeBundle } from "./scripted-fleet";

const V_OLD = 1_002_000;
const V_NEW = 1_003_000;
let t = Date.UTC(2026, 10, 1);
const clock: ServiceClock = { now: () => t, setTimeout: () => undefined, clearTimeout: () => {} };
let service: FleetService | undefined;

afterEach(async () => {
  await service?.close();
  service = undefined;
});

describe("ambiguous retry and relabelled devices", () => {
  it("a device relabelled into the rejected device's stratum after it succeeded counts there: the rejection gets its retry", async () => {
    const s = (service = new FleetService({ db: ":memory:", clock, transport: new NullTransport(), rollouts: { healthEveryMs: 1e15 } }));
    await s.start();
    const ids = ["d1", "d2", "d3", "d4"];
    s.ingest.handle(ids.map((id) => ({ topic: `tether/${id}/telemetry`, retain: false, payload: encodeTelemetryBatch(batch(id, { seq: 1, firmware: "1.2.0" })) })));
    s.registry.setLabels("d1", { hardware: "C" }, t);
    for (const id of ["d2", "d3", "d4"]) s.registry.setLabels(id, { hardware: "A" }, t);
    const rid = s.rollouts.create({
      bundle: makeBundle(`${tempDir("tether-relabel-")}/bundle`, V_NEW), target: "firmware < 1.3.0", canary: 4, waves: [100], ratePerMinute: 600,
      maxFailurePct: 50, minExecuted: 10, timeoutMs: 3_600_000, soakMs: 3_600_000, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 2, maxInterrupted: 3,
      health: { ...DEFAULTS.health },
    }).id;
    const state = (id: string) => s.rollouts.devices(rid).find((d) => d.deviceId === id)!.state;
    expect(ids.map(state)).toEqual(["offered", "offered", "offered", "offered"]);
    const status = (id: string, st: Parameters<typeof encodeStatus>[0]) => s.ingest.handle([{ topic: `tether/${id}/ota/status`, retain: true, payload: encodeStatus(st) }]);
    // d1 (hardware C) rejects with the ambiguous cause; d2 and d3 (hardware A) succeed; d4 stays open.
    t += 60_000;
    status("d1", { state: 0, result: 105, version: V_NEW, running: V_OLD, cause: 6 });
    status("d2", { state: 0, result: 1, version: V_NEW, running: V_NEW });
    status("d3", { state: 0, result: 1, version: V_NEW, running: V_NEW });
    t += 60_000;
    s.rollouts.tickAll();
    expect(state("d1")).toBe("ambiguous"); // no success in its stratum
    // The operator relabels d2 and d3: they are hardware C now, two successes in d1's stratum.
    s.registry.setLabels("d2", { hardware: "C" }, t);
    s.registry.setLabels("d3", { hardware: "C" }, t);
    t += 60_000;
    s.rollouts.tickAll();
    expect(state("d1")).toBe("retrying");
  });
});

async function start(file: string): Promise<FleetService> {
  const s = (service = new FleetService({ db: file, clock, transport: new NullTransport(), rollouts: { healthEveryMs: 1e15 } }));
  await s.start();
  return s;
}

describe("the rollout list", () => {
  it("gives the same counts before and after a restart, and reads a finished rollout's devices once, not on every call", async () => {
    const dir = tempDir("tether-rollout-list-");
    let s = await start(`${dir}/fleet.db`);
    const ids = ["d1", "d2", "d3", "d4"];
    s.ingest.handle(ids.map((id) => ({ topic: `tether/${id}/telemetry`, retain: false, payload: encodeTelemetryBatch(batch(id, { seq: 1, firmware: "1.2.0" })) })));
    const spec = {
      bundle: makeBundle(`${dir}/bundle`, V_NEW), target: "firmware < 1.3.0", canary: 4, waves: [100], ratePerMinute: 600, maxFailurePct: 50, minExecuted: 10,
      timeoutMs: 3_600_000, soakMs: 0, successThresholdPct: 50, maxRetries: 2, maxInterrupted: 3, minBatteryPct: 30, health: { ...DEFAULTS.health },
    };
    // r0001 over d1 and d2: both succeed, it completes; r0002 over d3 and d4 stays live.
    const first = s.rollouts.create({ ...spec, target: "id = d1 or id = d2" }).id;
    t += 60_000;
    for (const id of ["d1", "d2"]) s.ingest.handle([{ topic: `tether/${id}/ota/status`, retain: true, payload: encodeStatus({ state: 0, result: 1, version: V_NEW, running: V_NEW }) }]);
    s.rollouts.tickAll();
    expect(s.rollouts.status(first)).toMatchObject({ status: "completed" });
    s.rollouts.create({ ...spec, target: "id = d3 or id = d4" });
    const before = s.rollouts.list();
    expect(before).toMatchObject([
      { id: first, status: "completed", total: 2, succeeded: 2, failures: 0 },
      { id: "r0002", status: "running", total: 2, succeeded: 0 },
    ]);
    await s.close();

    s = await start(`${dir}/fleet.db`);
    const load = vi.spyOn(s.rollouts.store, "load");
    expect(s.rollouts.list()).toEqual(before);
    expect(s.rollouts.list()).toEqual(before);
    expect(load.mock.calls).toEqual([[first]]); // the finished one, once; the live one from memory
  });
});

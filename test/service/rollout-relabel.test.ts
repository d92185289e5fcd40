/**
 * The ambiguous-rejection retry rule counts successes per stratum (hardware and group labels)
 * from the rollout's device index, which remembers each succeeded device's stratum. A label
 * changed through the registry (PATCH /api/devices/ID) must reach that index: a device relabelled
 * into the stratum counts there from the next tick. A real FleetService, messages through the ingest.
 */
import { afterEach, describe, expect, it } from "vitest";
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

/**
 * Remote diagnosis in the device's API entry: `GET /api/devices/ID` carries `diagnosis` (recent
 * resets, hourly RSSI and reconnects, battery curve with the predicted empty date, OTA history,
 * open alerts), the same object as `GET /api/devices/ID/diagnosis`, with the data coming in the
 * way it does in production: encoded telemetry and OTA status through the service's ingest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeStatus } from "../../device/core/ota/status";
import { versionNumber } from "../../device/core/ota/version";
import { encodeTelemetryBatch } from "../../device/core/telemetry/record";
import type { ServiceClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { parseRules } from "../../service/health/config";
import { ProactiveSupport } from "../../service/health/module";
import { NullTransport } from "./chromium";
import { batch } from "./helpers";

const HOUR = 3_600_000;
let t = Date.UTC(2026, 10, 1);
const clock: ServiceClock = { now: () => t, setTimeout: () => undefined, clearTimeout: () => {} };
let service: FleetService;
let p: ProactiveSupport;
let url: string;

function deliver(topic: string, payload: Uint8Array): void {
  service.ingest.handle([{ topic, payload, retain: false }]);
}

async function get(path: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url + path);
  return { status: r.status, body: await r.json() };
}

beforeAll(async () => {
  service = new FleetService({ db: ":memory:", clock, transport: new NullTransport() });
  p = new ProactiveSupport(service, parseRules({}));
  await service.use(p);
  await service.start();
  // dev-1: six hourly reports, weak radio and reconnects, a battery predicted flat in 3 days,
  // a watchdog reset in the middle, then an OTA download.
  for (let seq = 1; seq <= 6; seq++) {
    const rebooted = seq >= 4;
    const b = batch("dev-1", { seq: rebooted ? seq + 16 : seq, rssi: -80 - seq, reconnects: seq, pct: 60 - seq, tteMin: 3 * 1440, uptimeMs: rebooted ? (seq - 3) * HOUR : 6 * HOUR + seq * HOUR, resetReason: rebooted ? "watchdog" : "power-on" });
    deliver("tether/dev-1/telemetry", encodeTelemetryBatch(b));
    t += HOUR;
  }
  deliver("tether/dev-1/ota/status", encodeStatus({ state: 1, result: 0, version: versionNumber("1.1.0"), running: versionNumber("1.0.0") }));
  p.evaluate();
  // dev-2 is in the registry (an operator labelled it) but has never reported.
  service.registry.setLabels("dev-2", { group: "lab" }, t);
  url = (await service.listen({ host: "127.0.0.1", port: 0 })).url;
});

afterAll(async () => {
  await service?.close();
});

describe("device entry with its remote diagnosis", () => {
  it("GET /api/devices/ID carries the diagnosis: resets, RSSI and reconnects, battery with the empty date, OTA, open alerts", async () => {
    const entry = await get("/api/devices/dev-1?history=3");
    expect(entry.status).toBe(200);
    expect(entry.body.device.id).toBe("dev-1");
    expect(entry.body.telemetry).toHaveLength(3); // the registry's own part is still there
    const d = entry.body.diagnosis;
    expect(d.resets.map((r: { reason: string }) => r.reason)).toContain("watchdog");
    expect(d.hourly.rssiMedian.filter((x: number | null) => x !== null)).toEqual([-81, -82, -83, -84, -85, -86]);
    expect(d.hourly.reconnects.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(0);
    expect(d.hourly.batteryPct.at(-1)).toBe(54);
    expect(d.battery.pct).toBe(54);
    expect(d.battery.predictedEmptyMs).toBeGreaterThan(t + 2 * 24 * HOUR);
    expect(d.battery.predictedEmptyMs).toBeLessThanOrEqual(t + 3 * 24 * HOUR);
    expect(d.ota.map((o: { state: number; version?: number }) => [o.state, o.version])).toEqual([[1, versionNumber("1.1.0")]]);
    expect(d.openAlerts.map((a: { rule: string }) => a.rule)).toEqual(["lowBattery"]);
    // The same object as the diagnosis route the dashboard's device page reads.
    expect((await get("/api/devices/dev-1/diagnosis")).body).toEqual(d);
  });

  it("a device the service has no data from yet has a null diagnosis; an unknown one is 404", async () => {
    const known = await get("/api/devices/dev-2");
    expect(known.status).toBe(200);
    expect(known.body.device.group_name).toBe("lab");
    expect(known.body.diagnosis).toBeNull();
    expect((await get("/api/devices/dev-3")).status).toBe(404);
  });
});

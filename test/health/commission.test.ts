import { describe, expect, it } from "vitest";
import { check, Commissioning } from "../../service/commission";
import { parseRules } from "../../service/health/config";
import { HealthEngine } from "../../service/health/engine";
import { batch, healthDb, TestClock } from "./helpers";

const MIN = 60_000;

describe("commissioning", () => {
  const rules = parseRules({});
  it("names what the installer must fix", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules, now: clock.now });
    expect(check("d", undefined, rules, clock.t).reasons).toEqual(["no telemetry from d yet: check that it is powered, its Wi-Fi credentials and its device id"]);
    e.telemetry(batch("d", { seq: 1, rssi: -91, pct: 80 }));
    const r = check("d", e.snapshot("d"), rules, clock.t);
    expect(r.ok).toBe(false);
    expect(r.reasons).toContain("RSSI \u221291 dBm: move the device or fit a repeater (needs \u221280 dBm or better)");
    expect(r.reasons).toContain("1 of 3 telemetry reports so far: wait for the next");
    e.telemetry(batch("d", { seq: 2, rssi: -60, pct: 12, status: 4 }));
    expect(check("d", e.snapshot("d"), rules, clock.t).reasons).toContain("battery low (12 %): fit a new battery");
    e.telemetry(batch("d", { seq: 3, rssi: -60, pct: 25, slot: 1 }));
    const r3 = check("d", e.snapshot("d"), rules, clock.t);
    expect(r3.reasons).toContain("battery 25 %: fit a fresh battery (at least 30 %)");
    expect(r3.reasons).toContain("firmware 1.0.0 is on trial, not confirmed yet: wait for the update to finish");
    clock.advance(60 * MIN);
    expect(check("d", e.snapshot("d"), rules, clock.t).reasons[0]).toMatch(/^offline: last report 60 min ago/);
  });

  it("waits for the device to pass and records the result", async () => {
    const clock = new TestClock();
    const db = healthDb();
    const e = new HealthEngine({ db, rules, now: clock.now });
    const c = new Commissioning(db, e, clock.now);
    const pending = c.run("d", 10 * MIN);
    for (let seq = 1; seq <= 3; seq++) {
      clock.advance(MIN);
      e.telemetry(batch("d", { seq, rssi: -62, pct: 90, uptimeMs: seq * MIN }));
    }
    const r = await pending;
    expect(r).toMatchObject({ ok: true, reasons: [], figures: { reports: 3, rssiDbm: -62, batteryPct: 90, firmwareConfirmed: true } });
    const failed = await c.run("other", 0);
    expect(failed.ok).toBe(false);
    expect(c.history("d").map((x) => x.ok)).toEqual([true]);
    expect(c.history("other")[0].reasons[0]).toMatch(/no telemetry/);
  });

  it("gives up at the deadline with the latest reasons", async () => {
    const clock = new TestClock();
    const db = healthDb();
    const e = new HealthEngine({ db, rules, now: clock.now });
    e.telemetry(batch("d", { seq: 1, rssi: -95 }));
    const r = await new Commissioning(db, e, clock.now).run("d", 50);
    expect(r.ok).toBe(false);
    expect(r.reasons.join("\n")).toContain("RSSI \u221295 dBm: move the device or fit a repeater");
  });
});

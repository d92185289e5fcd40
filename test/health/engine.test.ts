import { afterEach, describe, expect, it } from "vitest";
import { parseRules } from "../../service/health/config";
import { HealthEngine } from "../../service/health/engine";
import { tempDir } from "../helpers/temp";
import { batch, healthDb, TestClock } from "./helpers";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("health engine", () => {
  it("raises one alert per episode, acknowledges, resolves, and raises a new episode later", () => {
    const clock = new TestClock();
    const db = healthDb();
    const e = new HealthEngine({ db, rules: parseRules({}), now: clock.now });
    const send = (seq: number, tteDays: number) => e.telemetry(batch("d1", { seq, tteMin: tteDays * 1440 }));
    send(1, 20);
    expect(e.evaluate()).toEqual([]);
    send(2, 6);
    const [opened] = e.evaluate();
    expect(opened).toMatchObject({ event: "opened", alert: { rule: "lowBattery", subject: "d1", state: "open", action: "replace battery" } });
    // Hovering around the threshold: no new alert.
    for (let i = 0; i < 10; i++) {
      send(3 + i, i % 2 ? 6.5 : 7.5);
      clock.advance(10 * MIN);
      expect(e.evaluate()).toEqual([]);
    }
    expect(e.acknowledge(opened.alert.id, "ops")?.state).toBe("acknowledged");
    expect(e.acknowledge(opened.alert.id, "ops")).toBeUndefined(); // only open alerts
    send(20, 30); // battery replaced
    expect(e.evaluate()).toMatchObject([{ event: "resolved", alert: { id: opened.alert.id, state: "resolved" } }]);
    send(21, 3);
    expect(e.evaluate()).toMatchObject([{ event: "opened", alert: { rule: "lowBattery", subject: "d1" } }]);
    expect(e.store.list().total).toBe(2);
  });

  it("keeps an open episode across a restart: no second alert", () => {
    const dir = tempDir("tether-health-");
    const clock = new TestClock();
    let db = healthDb(`${dir}/fleet.db`);
    let e = new HealthEngine({ db, rules: parseRules({}), now: clock.now });
    e.telemetry(batch("d1", { seq: 1, tteMin: 1440 }));
    expect(e.evaluate()).toHaveLength(1);
    db.close();
    db = healthDb(`${dir}/fleet.db`);
    e = new HealthEngine({ db, rules: parseRules({}), now: clock.now });
    e.telemetry(batch("d1", { seq: 2, tteMin: 1400 }));
    expect(e.evaluate()).toEqual([]);
    expect(e.store.list({ state: "unresolved" }).total).toBe(1);
    db.close();
  });

  it("offline: raised after silence, resolved when the device returns; a restarted service judges seeded devices", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock.now });
    e.telemetry(batch("d1", { seq: 1 }));
    clock.advance(10 * MIN);
    e.telemetry(batch("d1", { seq: 2 }));
    clock.advance(HOUR);
    expect(e.evaluate()).toMatchObject([{ event: "opened", alert: { rule: "offline", subject: "d1" } }]);
    e.telemetry(batch("d1", { seq: 3 }));
    expect(e.evaluate()).toMatchObject([{ event: "resolved", alert: { rule: "offline" } }]);
    e.seed("d2", { lastSeenMs: clock.t - DAY, firmware: "1.0.0" });
    expect(e.evaluate()).toMatchObject([{ event: "opened", alert: { rule: "offline", subject: "d2" } }]);
  });

  it("offline: a stretch the device announces (low battery, ×4) is honoured before the longer silence; a really silent device is still flagged", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock.now });
    const openedOffline = () => e.evaluate().filter((x) => x.event === "opened" && x.alert.rule === "offline");
    let up = 6 * HOUR;
    const send = (seq: number, o: { alarm?: "none" | "low"; intervalSec: number }) =>
      e.telemetry(batch("d1", { seq, uptimeMs: up, pct: o.alarm === "low" ? 19 : 40, alarm: o.alarm, intervalSec: o.intervalSec }));
    // Ten reports 10 min apart: the learned interval is 10 min (silence limit 30 min).
    for (let seq = 1; seq <= 10; seq++) {
      send(seq, { intervalSec: 600 });
      clock.advance(10 * MIN);
      up += 10 * MIN;
      expect(openedOffline()).toEqual([]);
    }
    // The battery goes low: this batch announces 40 min; the next one comes 40 min later.
    send(11, { alarm: "low", intervalSec: 2400 });
    for (let m = 0; m < 40; m += 5) {
      clock.advance(5 * MIN);
      expect(openedOffline(), `${m + 5} min after the stretched batch`).toEqual([]);
    }
    up += 40 * MIN;
    send(12, { alarm: "low", intervalSec: 2400 });
    // Nor is the announced 40-min wait a telemetry gap (the poor-connectivity rule counts those).
    expect(e.snapshot("d1")!.hours.reduce((n, h) => n + h.gaps, 0)).toBe(0);
    // Now really silent: flagged once 3 × 40 min have passed, not before.
    clock.advance(120 * MIN);
    expect(openedOffline()).toEqual([]);
    clock.advance(MIN);
    expect(openedOffline()).toMatchObject([{ alert: { rule: "offline", subject: "d1" } }]);
  });

  it("offline: a batch without the announced interval (older firmware) is judged by the learned one, as before", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock.now });
    for (let seq = 1; seq <= 10; seq++) {
      e.telemetry(batch("d1", { seq }));
      clock.advance(10 * MIN);
    }
    // The last batch came 10 min ago; the limit is 3 × 10 min.
    clock.advance(19 * MIN);
    expect(e.evaluate()).toEqual([]);
    clock.advance(2 * MIN);
    expect(e.evaluate()).toMatchObject([{ event: "opened", alert: { rule: "offline", subject: "d1" } }]);
  });
});

describe("cohorts", () => {
  function fleet(clock: TestClock, e: HealthEngine, n: number, drainFor: (i: number) => number, fw: (i: number) => string, hours: number) {
    for (let h = 0; h < hours; h++) {
      for (let i = 0; i < n; i++) {
        e.telemetry(batch(`d${i}`, { seq: h + 1, firmware: fw(i), dropBp: drainFor(i), tteMin: 30 * 1440, uptimeMs: (h + 1) * HOUR, rssi: -60 }));
      }
      clock.advance(HOUR);
    }
  }

  it("a firmware draining 30 % faster raises ONE cohort alert, not one per device", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock.now });
    // 100 devices, 40 on 1.3.0 that drain 30 % faster (with ±10 % device-to-device spread).
    fleet(clock, e, 100, (i) => Math.round((i % 40 === 0 || i < 40 ? 130 : 100) * (0.9 + (i % 7) * 0.033)), (i) => (i < 40 ? "1.3.0" : "1.2.0"), 8);
    const changes = e.evaluate();
    const cohort = changes.filter((c) => c.alert.rule === "cohort");
    expect(cohort).toHaveLength(1);
    expect(cohort[0].alert).toMatchObject({ subject: "firmware=1.3.0", deviceId: null, action: "investigate cohort" });
    expect(cohort[0].alert.summary).toMatch(/drainPctPerHour 1\.\d+ vs 1\.0\d+/);
    expect(changes).toHaveLength(1);
  });

  it("the same fleet without the faster drain raises nothing; a small cohort is not judged", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock.now });
    fleet(clock, e, 100, (i) => Math.round(100 * (0.9 + (i % 7) * 0.033)), (i) => (i < 40 ? "1.3.0" : "1.2.0"), 8);
    expect(e.evaluate()).toEqual([]);
    const clock2 = new TestClock();
    const e2 = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock2.now });
    fleet(clock2, e2, 100, (i) => (i < 10 ? 200 : 100), (i) => (i < 10 ? "1.3.0" : "1.2.0"), 8);
    expect(e2.evaluate()).toEqual([]);
  });

  it("crash resets per device-day single out the cohort", () => {
    const clock = new TestClock();
    const e = new HealthEngine({ db: healthDb(), rules: parseRules({}), now: clock.now });
    for (let h = 0; h < 6; h++) {
      for (let i = 0; i < 60; i++) {
        const crashy = i < 25 && h % 2 === 1; // 1.3.0 reboots on a watchdog every other hour
        e.telemetry(batch(`d${i}`, { seq: h + 1, firmware: i < 25 ? "1.3.0" : "1.2.0", uptimeMs: crashy ? 1000 : (h + 1) * HOUR, resetReason: crashy ? "watchdog" : "power-on" }));
      }
      clock.advance(HOUR);
    }
    const changes = e.evaluate();
    expect(changes.map((c) => c.alert.subject)).toEqual(["firmware=1.3.0"]);
    expect(changes[0].alert.summary).toContain("resetsPerDeviceDay");
  });
});

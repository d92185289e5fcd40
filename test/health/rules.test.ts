import { describe, expect, it } from "vitest";
import { DEFAULT_RULES, parseRules, parseRulesText, RulesError } from "../../service/health/config";
import { DeviceWindow } from "../../service/health/device-window";
import { lowBattery, offline, poorConnectivity } from "../../service/health/rules";
import { batch } from "./helpers";

const T0 = Date.UTC(2026, 10, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("rules file", () => {
  it("defaults apply to an empty file", () => {
    expect(parseRules({})).toEqual(DEFAULT_RULES);
  });

  it("lists every problem with its path, and rejects unknown keys", () => {
    const bad = { lowBattery: { daysToEmpty: -1, colour: "red" }, offline: { actions: ["pager"] }, actions: { x: { type: "fax" } } };
    try {
      parseRules(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RulesError);
      const p = (e as RulesError).problems.join("\n");
      expect(p).toContain("lowBattery.daysToEmpty: expected a number in 0.1..365, got -1");
      expect(p).toContain("lowBattery.colour: unknown key");
      expect(p).toContain('offline.actions: names action "pager"');
      expect(p).toContain('actions.x.type: expected "webhook", "email", "mqtt" or "csv"');
    }
    expect(() => parseRulesText("{")).toThrow(/not JSON/);
    expect(() => parseRules({ poorConnectivity: { medianRssiBelowDbm: -80, clearMedianRssiAboveDbm: -90 } })).toThrow(/hysteresis/);
  });

  it("reads actions and who uses them", () => {
    const r = parseRules({
      lowBattery: { daysToEmpty: 5, actions: ["ops", "mail"] },
      actions: {
        ops: { type: "webhook", url: "http://127.0.0.1:9/hook" },
        mail: { type: "email", smtp: "smtp://127.0.0.1:2525", to: "support@example.com" },
      },
    });
    expect(r.lowBattery.clearDaysToEmpty).toBe(10);
    expect(r.actions.ops).toEqual({ type: "webhook", url: "http://127.0.0.1:9/hook", headers: {}, events: ["opened", "resolved"] });
    expect(r.actions.mail).toMatchObject({ type: "email", to: ["support@example.com"], events: ["opened"] });
  });
});

describe("low battery", () => {
  const rule = DEFAULT_RULES.lowBattery;
  it("raises below N days with the date the battery must be replaced by, and holds until above the clear level", () => {
    const w = new DeviceWindow("d", T0);
    w.telemetry(batch("d", { seq: 1, tteMin: 8 * 1440 }), T0);
    expect(lowBattery(w.s, rule, false, T0)).toEqual({ active: false });
    w.telemetry(batch("d", { seq: 2, tteMin: 6 * 1440 }), T0);
    const v = lowBattery(w.s, rule, false, T0);
    expect(v).toMatchObject({ active: true, dueByMs: T0 + 6 * DAY });
    expect(v!.active && v!.summary).toBe("battery empty in 6.0 days: replace battery by 2026-11-07");
    // Back to 8 days: still below the clear level (10 days) once open, cleared when closed.
    w.telemetry(batch("d", { seq: 3, tteMin: 8 * 1440 }), T0);
    expect(lowBattery(w.s, rule, true, T0)?.active).toBe(true);
    expect(lowBattery(w.s, rule, false, T0)?.active).toBe(false);
    w.telemetry(batch("d", { seq: 4, tteMin: 11 * 1440 }), T0);
    expect(lowBattery(w.s, rule, true, T0)?.active).toBe(false);
  });

  it("ages the prediction by the time since it was sent", () => {
    const w = new DeviceWindow("d", T0);
    w.telemetry(batch("d", { seq: 1, tteMin: 8 * 1440 }), T0);
    expect(lowBattery(w.s, rule, false, T0 + 1.5 * DAY)?.active).toBe(true);
  });

  it("raises on the LwM2M status low or the device's alarm, and clears when charging", () => {
    const w = new DeviceWindow("d", T0);
    w.telemetry(batch("d", { seq: 1, status: 4, pct: 18 }), T0);
    expect(lowBattery(w.s, rule, false, T0)).toMatchObject({ active: true, summary: "battery low at 18 %: replace battery as soon as possible" });
    w.telemetry(batch("d", { seq: 2, alarm: "critical", pct: 9, dropBp: 100 }), T0);
    expect(lowBattery(w.s, rule, false, T0)).toMatchObject({ active: true, dueByMs: T0 + 9 * HOUR });
    w.telemetry(batch("d", { seq: 3, status: 1, pct: 12 }), T0);
    expect(lowBattery(w.s, rule, true, T0)).toBeUndefined(); // a charging blip (after a reboot) does not close it
    w.telemetry(batch("d", { seq: 4, status: 1, pct: 14 }), T0 + HOUR);
    expect(lowBattery(w.s, rule, true, T0 + HOUR)?.active).toBe(false); // an hour of charging does
  });
});

describe("poor connectivity", () => {
  const rule = DEFAULT_RULES.poorConnectivity;
  function day(rssi: number, reconnectEvery: number): DeviceWindow {
    const w = new DeviceWindow("d", T0);
    let rc = 0;
    for (let i = 0; i < 144; i++) {
      if (reconnectEvery > 0 && i % reconnectEvery === 0) rc++;
      w.telemetry(batch("d", { seq: i + 1, rssi, reconnects: rc }), T0 + i * 10 * MIN);
    }
    return w;
  }
  it("needs a weak median AND an unstable link", () => {
    const now = T0 + DAY - MIN;
    expect(poorConnectivity(day(-92, 12).s, rule, false, now)?.active).toBe(true); // 12 reconnects/day
    expect(poorConnectivity(day(-92, 0).s, rule, false, now)?.active).toBe(false); // weak but stable
    expect(poorConnectivity(day(-70, 12).s, rule, false, now)?.active).toBe(false); // flaky but strong
  });
  it("learns the report interval from the first batch's samples", () => {
    const w = new DeviceWindow("d", T0);
    const b = batch("d", { seq: 1 });
    b.samples = [0, 1, 2, 3].map((k) => ({ tMs: b.madeAtMs - 45 * MIN + k * 15 * MIN, rssiDbm: -60 }));
    w.telemetry(b, T0);
    expect(w.s.intervalMs).toBe(60 * MIN);
  });

  it("cannot tell from a few samples", () => {
    const w = new DeviceWindow("d", T0);
    w.telemetry(batch("d", { seq: 1, rssi: -99, reconnects: 5 }), T0);
    expect(poorConnectivity(w.s, rule, false, T0 + MIN)).toBeUndefined();
  });
  it("holds an open alert between the two thresholds", () => {
    const now = T0 + DAY - MIN;
    const w = day(-83, 12); // between -85 (raise) and -80 (clear)
    expect(poorConnectivity(w.s, rule, false, now)?.active).toBe(false);
    expect(poorConnectivity(w.s, rule, true, now)?.active).toBe(true);
  });
  it("counts telemetry gaps", () => {
    const w = new DeviceWindow("d", T0);
    for (let i = 0; i < 100; i++) w.telemetry(batch("d", { seq: i + 1, rssi: -95 }), T0 + i * 10 * MIN + (i % 10 === 0 ? 0 : 0) + Math.floor(i / 10) * 60 * MIN);
    expect(poorConnectivity(w.s, rule, false, T0 + 100 * 10 * MIN + 10 * HOUR)?.active).toBe(true);
  });
});

describe("offline", () => {
  const rule = DEFAULT_RULES.offline;
  it("after k report intervals of silence, or a last will held for the minimum silence; clears on return", () => {
    const w = new DeviceWindow("d", T0);
    w.telemetry(batch("d", { seq: 1 }), T0 - 10 * MIN);
    // One report: the interval is not known yet, so the assumed one (1 h) applies.
    expect(offline(w.s, rule, false, T0 + 2 * HOUR).active).toBe(false);
    w.telemetry(batch("d", { seq: 2 }), T0);
    expect(w.s.intervalMs).toBe(10 * MIN);
    expect(offline(w.s, rule, false, T0 + 29 * MIN).active).toBe(false);
    expect(offline(w.s, rule, false, T0 + 31 * MIN).active).toBe(true);
    w.telemetry(batch("d", { seq: 3 }), T0 + 32 * MIN);
    expect(offline(w.s, rule, true, T0 + 32 * MIN).active).toBe(false);
    w.status(false, T0 + 33 * MIN);
    expect(offline(w.s, rule, false, T0 + 35 * MIN).active).toBe(false); // a 2-minute blip pages nobody
    expect(offline(w.s, rule, false, T0 + 39 * MIN)).toMatchObject({ active: true, summary: "offline (last will) for 6 min" });
    w.status(true, T0 + 40 * MIN);
    expect(offline(w.s, rule, true, T0 + 40 * MIN).active).toBe(false);
  });
});

describe("low battery across a reboot", () => {
  const rule = DEFAULT_RULES.lowBattery;
  it("an update's reboot does not close the alert of a battery that reads 95 % all along; a new battery does", () => {
    // A small battery at 96 %, predicted flat in 6 days: open. The device updates (reboots) and
    // restarts its drain estimate: no prediction yet, still 95 %.
    const w = new DeviceWindow("d", T0);
    for (let h = 0; h < 3; h++) w.telemetry(batch("d", { seq: h + 1, pct: 96 - (h >> 1), tteMin: 6 * 1440, uptimeMs: 7 * HOUR + h * HOUR }), T0 + h * HOUR);
    expect(lowBattery(w.s, rule, false, T0 + 2 * HOUR)?.active).toBe(true);
    w.telemetry(batch("d", { seq: 17, pct: 95, uptimeMs: 5 * MIN, firmware: "1.1.0" }), T0 + 3 * HOUR);
    expect(lowBattery(w.s, rule, true, T0 + 3 * HOUR)).toBeUndefined(); // cannot tell: stays open
    // The new estimate, 6 hours on, still says 6 days: still open.
    w.telemetry(batch("d", { seq: 18, pct: 92, tteMin: 6 * 1440, uptimeMs: 6 * HOUR, firmware: "1.1.0" }), T0 + 9 * HOUR);
    expect(lowBattery(w.s, rule, true, T0 + 9 * HOUR)?.active).toBe(true);

    // A battery down to 20 %, replaced: the device boots at 100 % with no estimate yet. Closed.
    const r = new DeviceWindow("r", T0);
    for (let h = 0; h < 3; h++) r.telemetry(batch("r", { seq: h + 1, pct: 22 - h, tteMin: 2 * 1440, uptimeMs: 7 * HOUR + h * HOUR }), T0 + h * HOUR);
    expect(lowBattery(r.s, rule, false, T0 + 2 * HOUR)?.active).toBe(true);
    r.telemetry(batch("r", { seq: 17, pct: 100, uptimeMs: 5 * MIN }), T0 + 3 * HOUR);
    expect(lowBattery(r.s, rule, true, T0 + 3 * HOUR)?.active).toBe(false);
    // Replaced within the hour of the last low reading: still a new battery.
    const q = new DeviceWindow("q", T0);
    q.telemetry(batch("q", { seq: 1, pct: 22, tteMin: 2 * 1440 }), T0);
    q.telemetry(batch("q", { seq: 17, pct: 100, uptimeMs: 5 * MIN }), T0 + 20 * MIN);
    expect(lowBattery(q.s, rule, true, T0 + 20 * MIN)?.active).toBe(false);
  });
});

describe("low battery from the curve the service saw", () => {
  it("uses the battery % over the last day when the device's own prediction is too hopeful", () => {
    const w = new DeviceWindow("d", T0);
    // 1 %/h for 13 hours from 40 %; the device claims 30 days left.
    for (let h = 0; h <= 13; h++) w.telemetry(batch("d", { seq: h + 1, pct: 40 - h, tteMin: 30 * 1440, uptimeMs: (h + 1) * HOUR }), T0 + h * HOUR);
    const v = lowBattery(w.s, DEFAULT_RULES.lowBattery, false, T0 + 13 * HOUR + 1);
    expect(v?.active).toBe(true);
    expect(v!.active && v!.summary).toMatch(/^battery empty in 1\.1 days/);
    // Too short a history: the device's prediction stands.
    const w2 = new DeviceWindow("d", T0);
    for (let h = 0; h <= 5; h++) w2.telemetry(batch("d", { seq: h + 1, pct: 40 - h, tteMin: 30 * 1440, uptimeMs: (h + 1) * HOUR }), T0 + h * HOUR);
    expect(lowBattery(w2.s, DEFAULT_RULES.lowBattery, false, T0 + 5 * HOUR + 1)?.active).toBe(false);
  });
});

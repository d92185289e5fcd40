/**
 * No interval the agent arms a timer with may reach 2³¹−1 ms (a timer overflow fires at once,
 * every time) or fall below a sane minimum: the config validator, the agent's and link's own
 * options, and backend config over MQTT all refuse, with a message naming the field and range.
 */
import { describe, expect, it } from "vitest";
import { Agent, AgentConfigError } from "../../device/core/agent";
import { INTERVAL_BOUNDS, MAX_TIMER_MS } from "../../device/core/config/intervals";
import { CONFIG_CODE, LIMITS, evaluateConfigMessage, encodeConfigRequest } from "../../device/core/config/telemetry-config";
import { Link } from "../../device/core/link/link";
import { validateTelemetryConfig } from "../../device/core/telemetry/reporter";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { virtualDevicePorts } from "../../host-sim/virtual-device";

const TOO_BIG = [MAX_TIMER_MS, 2 ** 31, 2 ** 32 + 5, 86_400_001, Number.MAX_SAFE_INTEGER];

describe("interval bounds", () => {
  it("every maximum is below a timer's 2³¹−1 ms", () => {
    for (const [name, b] of Object.entries(INTERVAL_BOUNDS)) expect(b.max * (b.unit === "s" ? 1000 : 1), name).toBeLessThan(MAX_TIMER_MS);
    // Backend config over MQTT stays inside what the validator accepts.
    expect(LIMITS.reportIntervalSec.max * 1000).toBeLessThanOrEqual(INTERVAL_BOUNDS.reportIntervalMs.max);
    expect(LIMITS.sampleIntervalSec.max * 1000).toBeLessThanOrEqual(INTERVAL_BOUNDS.sampleIntervalMs.max);
    expect(LIMITS.sampleIntervalSec.min * 1000).toBeGreaterThanOrEqual(INTERVAL_BOUNDS.sampleIntervalMs.min);
  });

  it("the telemetry config validator refuses intervals at or past 2³¹−1 ms, and below 100 ms", () => {
    for (const v of [...TOO_BIG, 99, 0, -1, 1.5, Number.NaN]) {
      expect(() => validateTelemetryConfig({ sampleIntervalMs: 1000, reportIntervalMs: v }), String(v)).toThrow(/reportIntervalMs must be an integer 100\.\.86400000 ms/);
      expect(() => validateTelemetryConfig({ sampleIntervalMs: v, reportIntervalMs: 1000 }), String(v)).toThrow(/sampleIntervalMs must be an integer/);
    }
    expect(() => validateTelemetryConfig({ sampleIntervalMs: 100, reportIntervalMs: 86_400_000 })).not.toThrow();
  });

  it("the agent refuses such telemetry intervals and keep-alives with AgentConfigError", () => {
    const clock = new VirtualClock();
    const { ports } = virtualDevicePorts({ seed: 1, clock, network: new VirtualNetwork(clock) });
    const base = { deviceId: "dev-1", brokers: ["mqtt://broker:1883"] };
    for (const v of TOO_BIG) {
      expect(() => new Agent(ports, { ...base, telemetry: { reportIntervalMs: v } })).toThrowError(AgentConfigError);
      expect(() => new Agent(ports, { ...base, telemetry: { sampleIntervalMs: v } })).toThrowError(/sampleIntervalMs must be an integer 100\.\.86400000 ms/);
    }
    for (const v of [0, 1, 1201, 65_535, 2.5]) expect(() => new Agent(ports, { ...base, keepAliveSec: v })).toThrowError(/keepAliveSec must be an integer 2\.\.1200 s/);
    expect(() => new Agent(ports, { ...base, link: { backoff: { capMs: 2 ** 31 } } })).toThrowError(/capMs must be an integer/);
    expect(() => new Agent(ports, { ...base, link: { connackTimeoutMs: 2 ** 40 } })).toThrowError(/connackTimeoutMs/);
  });

  it("the link refuses out-of-range timings of its own", () => {
    const clock = new VirtualClock();
    const { ports } = virtualDevicePorts({ seed: 1, clock, network: new VirtualNetwork(clock) });
    const make = (o: object) => new Link(ports, { deviceId: "d", brokers: [{ host: "b", port: 1883 }], ...o });
    expect(() => make({ backoff: { refusedMinMs: 2 ** 31 } })).toThrow(/refusedMinMs must be an integer 0\.\.43200000 ms/);
    expect(() => make({ backoff: { powerOnMaxMs: -5 } })).toThrow(/powerOnMaxMs/);
    expect(() => make({ keepAliveSec: 30 })).not.toThrow();
  });

  it("backend config over MQTT: intervals past the limits are refused (code 3), nothing applied", () => {
    const current = { sampleIntervalMs: 60_000, reportIntervalMs: 60_000 };
    for (const sec of [86_401, Math.ceil(MAX_TIMER_MS / 1000), 2 ** 32]) {
      const o = evaluateConfigMessage(current, encodeConfigRequest({ reportIntervalSec: sec }));
      expect(o).toMatchObject({ ok: false, code: CONFIG_CODE.outOfRange, error: "reportIntervalSec (key 1) must be an integer 5..86400" });
    }
    // The same sent with an 8-byte integer head is read, and refused for its value, not its encoding.
    const wide = Uint8Array.from([0xa1, 0x01, 0x1b, 0, 0, 0, 0, 0x80, 0, 0, 0]);
    expect(evaluateConfigMessage(current, wide)).toMatchObject({ ok: false, code: CONFIG_CODE.outOfRange });
    const wideOk = Uint8Array.from([0xa1, 0x01, 0x1b, 0, 0, 0, 0, 0, 0, 0, 60]);
    expect(evaluateConfigMessage(current, wideOk)).toMatchObject({ ok: true, config: { reportIntervalMs: 60_000 } });
  });
});

/** Scenario files: broken ones fail with errors that name the path; good ones normalize. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkScenarioFits, parseDuration, parseScenario, ScenarioError, validateScenario } from "../../host-sim/fleet/scenario";

const SCENARIOS = join(new URL("../..", import.meta.url).pathname, "scenarios");

function problems(json: unknown): string[] {
  try {
    validateScenario(json);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).problems;
  }
  throw new Error("expected the scenario to be rejected");
}

describe("scenario validation", () => {
  it("names the path of a bad value", () => {
    expect(problems({ groups: [{ name: "a" }, { name: "b", battery: { capacityMah: -5 } }] })).toEqual([
      "groups[1].battery.capacityMah: expected a positive integer, got -5",
    ]);
  });

  it("checks a group's radio like the rest of the file", () => {
    expect(problems({ groups: [{ radio: { spreadDbm: 40, dropFor: "0s", dropsPerDay: -1, colour: 1 } }] })).toEqual([
      "groups[0].radio.colour: unknown key (allowed: meanDbm, spreadDbm, walkDbm, dropFor, dropsPerDay)",
      "groups[0].radio.meanDbm: required",
      "groups[0].radio.spreadDbm: expected an integer in 0..30, got 40",
      'groups[0].radio.dropFor: expected a positive duration like "90s", "15m", "36h", "7d" or integer ms, got "0s"',
      "groups[0].radio.dropsPerDay: expected a number in 0..1000, got -1",
    ]);
    expect(validateScenario({ groups: [{ radio: { meanDbm: -90 } }] }).groups[0].radio).toEqual({ meanDbm: -90, spreadDbm: 0, walkDbm: 6, dropForMs: 120_000, dropsPerDay: undefined });
  });

  it("rejects unknown keys at every level, listing what is allowed", () => {
    const p = problems({ devcies: 10, groups: [{ battery: { capacity: 1 } }], faults: [{ kind: "broker-outage", at: "1h", for: "5m", sevrity: 2 }] });
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/^scenario\.devcies: unknown key \(allowed: description, devices, /);
    expect(p[1]).toMatch(/^groups\[0\]\.battery\.capacity: unknown key/);
    expect(p[2]).toMatch(/^faults\[0\]\.sevrity: unknown key \(allowed: kind, at, for\)/);
  });

  it("reports every problem at once, not only the first", () => {
    const p = problems({
      duration: "3 days",
      groups: [{ firmware: "1.2", telemetry: { reportInterval: "1m", sampleInterval: "5m" } }],
      faults: [{ kind: "meteor" }, { kind: "power-cut", off: "30s" }, { kind: "link-flap", perDeviceDay: -1 }],
      ota: [{ at: "1d", firmware: "2.0.0", devices: { group: "nope" } }],
    });
    expect(p).toEqual([
      'groups[0].telemetry.sampleInterval: must not be longer than reportInterval',
      'groups[0].firmware: expected a version "MAJOR.MINOR.PATCH" (each 0..999), got "1.2"',
      "faults[0].kind: expected one of broker-outage, broker-restart, link-flap, latency, loss, power-cut, flash-error, clock-drift, time-sync-fail, battery-drain, hostile, got \"meteor\"",
      "faults[1].at: required duration is missing",
      "faults[2].perDeviceDay: expected a rate in (0, 10000] per device per day, got -1",
      'ota[0].devices.group: no group named "nope" (groups: group0)',
      'scenario.duration: expected a positive duration like "90s", "15m", "36h", "7d" or integer ms, got "3 days"',
    ]);
  });

  it("rejects wrong types and impossible combinations", () => {
    expect(problems([])).toEqual(["scenario: expected an object"]);
    expect(problems({ groups: [] })).toEqual(["groups: expected at least one group"]);
    expect(problems({ groups: [{ name: "x" }, { name: "x" }] })).toEqual(['groups[1].name: duplicate group name "x"']);
    expect(problems({ faults: [{ kind: "power-cut", at: "1h", devices: { permille: 10, count: 3 } }] })).toEqual(["faults[0].devices: give permille or count, not both"]);
    expect(problems({ faults: [{ kind: "link-flap", at: "1h", perDeviceDay: 2 }] })).toEqual(['faults[0]: give "at" or "perDeviceDay", not both']);
    expect(problems({ groups: [{ keepAlive: "1500ms" }] })).toEqual(["groups[0].keepAlive: expected whole seconds, 2..1200 s (what the agent accepts)"]);
    expect(problems({ groups: [{ keepAlive: "1h" }] })).toEqual(["groups[0].keepAlive: expected whole seconds, 2..1200 s (what the agent accepts)"]);
    expect(problems({ groups: [{ keepAlive: "soon" }] })).toEqual([expect.stringMatching(/^groups\[0\]\.keepAlive: expected a positive duration/)]);
    expect(problems({ ota: [{ at: "1h", firmware: "2.0.0", bad: "sometimes" }] })).toEqual(['ota[0].bad: expected "crash", "hang" or false, got "sometimes"']);
    expect(problems({ seed: 1.5 })).toEqual(["scenario.seed: expected an integer in 0..4294967295, got 1.5"]);
  });

  it("refuses telemetry intervals the agent refuses (below 100 ms every device would be reported bricked)", () => {
    expect(problems({ groups: [{ telemetry: { reportInterval: "50ms" } }] })).toEqual([
      "groups[0].telemetry.reportInterval: must be 100ms..1d (what the agent accepts), got 50ms",
      "groups[0].telemetry.sampleInterval: must be 100ms..1d (what the agent accepts), got 50ms",
    ]);
    expect(problems({ groups: [{ telemetry: { reportInterval: "2d", sampleInterval: "1h" } }] })).toEqual([
      "groups[0].telemetry.reportInterval: must be 100ms..1d (what the agent accepts), got 2d",
    ]);
    expect(validateScenario({ groups: [{ telemetry: { reportInterval: "100ms" } }] }).groups[0].reportIntervalMs).toBe(100);
  });

  it("refuses faults and offers after the end of the run, and counts larger than the fleet or group", () => {
    expect(
      problems({
        devices: 10,
        duration: "1d",
        groups: [{ name: "a", weight: 4 }, { name: "b" }],
        faults: [
          { kind: "broker-outage", at: "25h", for: "5m" },
          { kind: "power-cut", at: "1h", devices: { count: 11 } },
          { kind: "link-flap", perDeviceDay: 2, devices: { group: "b", count: 3 } },
          { kind: "link-flap", perDeviceDay: 2, devices: { group: "a", count: 8 } },
        ],
        ota: [{ at: "1d", firmware: "1.1.0" }],
      }),
    ).toEqual([
      "faults[0].at: 25h is not before the end of the run (1d); it would never happen",
      "faults[1].devices.count: 11 devices asked for, but the fleet has 10",
      'faults[2].devices.count: 3 devices asked for, but group "b" has 2 of the fleet\'s 10',
      "ota[0].at: 1d is not before the end of the run (1d); it would never happen",
    ]);
    // The CLI's --devices/--duration are checked against the same scenario.
    const s = validateScenario({ faults: [{ kind: "broker-outage", at: "2h", for: "5m" }] });
    expect(() => checkScenarioFits(s, 5, 3_600_000)).toThrowError(/faults\[0\]\.at: 2h is not before the end of the run \(1h\)/);
    expect(() => checkScenarioFits(s, 5, 3 * 3_600_000)).not.toThrow();
  });

  it("checks hostile publisher faults: a known message, and only the keys that message uses", () => {
    expect(
      problems({
        faults: [
          { kind: "hostile", at: "1h", message: "flood" },
          { kind: "hostile", at: "1h", message: "withdrawn-offer" },
          { kind: "hostile", at: "1h", message: "version-mismatch", firmware: "1.1.0", signedAs: "1.1.0" },
          { kind: "hostile", at: "1h", message: "garbage", depth: 5, topic: "status" },
        ],
      }),
    ).toEqual([
      "faults[0].message: expected one of oversized, deep-cbor, garbage, duplicate-offer, withdrawn-offer, version-mismatch, retained-poison, got \"flood\"",
      "faults[1].firmware: required firmware version is missing",
      "faults[2].signedAs: must differ from firmware (that would be an honest offer)",
      'faults[3].topic: expected one of config, manifest, got "status"',
      "faults[3].depth: only for deep-cbor",
    ]);
    const s = validateScenario({ faults: [{ kind: "hostile", at: "1h", message: "oversized", topic: "manifest", bytes: 30000 }] });
    expect(s.faults[0]).toMatchObject({ kind: "hostile", message: "oversized", topic: "manifest", bytes: 30000 });
  });

  it("turns JSON syntax errors into the same error type", () => {
    expect(() => parseScenario("{ devices: 1 }", "x.json")).toThrowError(/x\.json: not valid JSON/);
  });

  it("fills defaults: one group, 60 s telemetry, no faults", () => {
    const s = validateScenario({});
    expect(s.groups).toEqual([
      expect.objectContaining({ name: "group0", weight: 1, firmware: "1.0.0", sampleIntervalMs: 60_000, reportIntervalMs: 60_000, timeSync: true }),
    ]);
    // No keepAlive: the agent derives its own from the report interval (default-keepalive.ts).
    expect(s.groups[0].keepAliveSec).toBeUndefined();
    expect(validateScenario({ groups: [{ keepAlive: "20m" }] }).groups[0].keepAliveSec).toBe(1200);
    expect(s.faults).toEqual([]);
    // Absent battery fields are absent, so the simulator's defaults apply.
    expect(validateScenario({ groups: [{ battery: { capacityMah: 10 } }] }).groups[0].battery).toEqual({ capacityMah: 10 });
  });

  it("parses durations", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("1d12h30m")).toBe(131_400_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration("7 d")).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration("1w")).toBeUndefined();
  });

  it("every example scenario in scenarios/ is valid", () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => parseScenario(readFileSync(join(SCENARIOS, f), "utf8"), f), f).not.toThrow();
  });
});

/**
 * Fleet scenario files: JSON, validated into a normalized Scenario. Every problem is reported
 * with the path of the offending value (`groups[1].battery.capacityMah: expected a positive
 * integer`), unknown keys are rejected (a typo must not silently disable a fault), and all
 * problems are listed at once. Durations are strings ("90s", "15m", "36h", "7d", "250ms") or
 * integer milliseconds. docs/fleet.md documents the format. Node-free.
 */

import { BOOT_MODELS, type BootModelName } from "../boot/boot-models";
import { DEEP_CBOR_DEFAULT_DEPTH, HOSTILE_MESSAGES, HOSTILE_TOPICS, OVERSIZED_DEFAULT_BYTES, type HostileMessage, type HostileTopic } from "./hostile";
import { INTERVAL_BOUNDS } from "../../device/core/config/intervals";
import { parseRadio, type RadioProfile } from "./radio";
import { parseServiceDuration as parseDuration } from "../../service/duration";
import { PathChecker, type Obj } from "../../service/path-checker";
import { parseCharger, parseFirmwareBehaviour, parseHardware, DEFAULT_HARDWARE, type Charger, type HardwareMix, type VersionBehaviour } from "./firmware-behaviour";

// ---------------------------------------------------------------- types
/** Which devices a fault or offer applies to: all (default), a group, a fraction or a count. */
export interface Selector {
  group?: string;
  /** Per mille of the (group's) devices, chosen from the run seed. */
  permille?: number;
  count?: number;
}

export interface BatteryProfile {
  capacityMah?: number;
  startPermille?: number;
  sleepUa?: number;
  activeUa?: number;
  transmitUa?: number;
  capacityVariationPermille?: number;
  startVariationPermille?: number;
}

/** host-sim/sensors/sim-sensors.ts SimSensorProfile, every field optional. */
export interface SensorProfile {
  meanCentiC?: number;
  swingCentiC?: number;
  meanHumidityPermille?: number;
  rssiMin?: number;
  rssiMax?: number;
}

export interface Group {
  name: string;
  /** Relative share of the fleet (devices split in proportion, remainder to the first groups). */
  weight: number;
  /** The factory firmware version ("1.0.0"): a real agent build. */
  firmware: string;
  battery: BatteryProfile;
  sensor: SensorProfile;
  sampleIntervalMs: number;
  reportIntervalMs: number;
  /** Wall clock drift (ppm) and whether SNTP ever answers. */
  driftPpm: number;
  timeSync: boolean;
  /** The agent's random power-on delay is U(0, this): spreads a fleet-wide power-on. */
  powerOnDelayMaxMs: number;
  /**
   * The OTA trial's health check deadline (a telemetry record acknowledged within it). The
   * agent's default (120 s) is shorter than a 10-minute report interval, which would roll back
   * every good update; the default here leaves room for one report after the power-on delay.
   */
  otaHealthTimeoutMs: number;
  /**
   * MQTT keep-alive; undefined = the agent's default, max(60 s, 2 × reportInterval) capped at
   * 20 min (device/core/link/default-keepalive.ts), so telemetry does the keep-alive's work.
   */
  keepAliveSec?: number;
  /** Charge connection attempts, TX and sampling to the battery (host-sim/battery/power.ts). */
  powerModel: boolean;
  /** Radio quality: per-device mean RSSI and the link drops that go with it (radio.ts). */
  radio?: RadioProfile;
  /** Hardware revision mix and a charger plugged in at a time (firmware-behaviour.ts). */
  hardware?: HardwareMix;
  charger?: Charger;
}

/** When a fault happens: at fixed times, or at random per device at a rate. */
export type FaultTiming = { at: number } | { perDeviceDay: number };

export type Fault =
  | { kind: "broker-outage"; at: number; forMs: number }
  | { kind: "broker-restart"; at: number; loseSessions: boolean }
  | { kind: "link-flap"; timing: FaultTiming; forMs: number; select: Selector }
  | { kind: "latency"; at: number; forMs: number; ms: number }
  | { kind: "loss"; at: number; forMs: number; permille: number }
  | { kind: "power-cut"; timing: FaultTiming; offMs: number; duringFlashWrite: boolean; select: Selector }
  | { kind: "flash-error"; at: number; forMs: number; permille: number; select: Selector }
  | { kind: "clock-drift"; at: number; ppm: number; select: Selector }
  | { kind: "time-sync-fail"; at: number; forMs: number; select: Selector }
  | { kind: "battery-drain"; at: number; ua: number; forMs: number; select: Selector }
  | {
      kind: "hostile";
      at: number;
      message: HostileMessage;
      /** oversized, deep-cbor, garbage: where it goes. */
      topic: HostileTopic;
      /** oversized: payload bytes. */
      bytes: number;
      /** deep-cbor: nesting depth. */
      depth: number;
      /** duplicate-offer, withdrawn-offer, version-mismatch: the image offered. */
      firmware: string | undefined;
      /** version-mismatch: the version its manifest names instead. */
      signedAs: string | undefined;
      select: Selector;
    };

export interface OtaOffer {
  at: number;
  firmware: string;
  /**
   * A bad image: "crash" throws at start-up, "hang" never finishes starting (the task watchdog
   * resets it); every trial boot fails and the device must roll back.
   */
  bad: "crash" | "hang" | undefined;
  select: Selector;
}

export interface Scenario {
  devices: number | undefined;
  /** How many of the devices run inside XS (host-sim/xs); --xs overrides it. */
  xsDevices: number | undefined;
  durationMs: number | undefined;
  seed: number | undefined;
  /** Fault-free time after the run for queues to empty, before loss is counted. */
  drainMs: number;
  /** Battery alarm threshold (SoC %) used as ground truth for alerts (the agent's lowEnterPct). */
  lowBatteryPct: number;
  groups: Group[];
  faults: Fault[];
  ota: OtaOffer[];
  /**
   * Rollouts run by the fleet service inside the simulation (host-sim/fleet/service-run.ts checks
   * each entry with the service's own request validation): { at, bundle: "sim:VERSION[:crash]", ... }.
   */
  rollouts: ScenarioRollout[];
  /** Version → what it does by hardware revision (firmware-behaviour.ts). */
  firmwareBehaviour?: Record<string, VersionBehaviour>;
  /** The bootloader and boot records every device boots with (host-sim/boot/boot-models.ts; default "reference"). */
  bootModel?: BootModelName;
}

export interface ScenarioRollout {
  /** When the rollout is created, simulated ms. */
  atMs: number;
  /** The rest of the entry: a POST /api/rollouts body. */
  request: Record<string, unknown>;
}

export class ScenarioError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid scenario:\n  ${problems.join("\n  ")}`);
    this.name = "ScenarioError";
  }
}

// ---------------------------------------------------------------- durations
// One duration syntax for scenario files, rollout requests and rules files (the service's parser).
export { parseDuration };

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// ---------------------------------------------------------------- the checker
/** The service's checker (every problem with its path), plus firmware versions. */
class Checker extends PathChecker {
  version(o: Obj, key: string, path: string, fallback: string | undefined): string {
    const v = o[key];
    if (v === undefined) {
      if (fallback === undefined) this.fail(`${path}.${key}`, "required firmware version is missing");
      return fallback ?? "0.0.0";
    }
    if (typeof v !== "string" || !/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v)) {
      this.fail(`${path}.${key}`, `expected a version "MAJOR.MINOR.PATCH" (each 0..999), got ${JSON.stringify(v)}`);
      return fallback ?? "0.0.0";
    }
    if (v.split(".").some((p) => Number(p) > 999)) this.fail(`${path}.${key}`, `version parts must be 0..999, got "${v}"`);
    return v;
  }
}

// ---------------------------------------------------------------- sections
const TOP_KEYS = ["description", "devices", "xsDevices", "duration", "seed", "drain", "lowBatteryPct", "bootModel", "groups", "faults", "ota", "rollouts", "firmwareBehaviour"] as const;
const GROUP_KEYS = ["name", "weight", "firmware", "battery", "sensor", "telemetry", "keepAlive", "powerOnDelayMax", "otaHealthTimeout", "clock", "powerModel", "radio", "hardware", "charger"] as const;
const BATTERY_KEYS = ["capacityMah", "startPermille", "sleepUa", "activeUa", "transmitUa", "capacityVariationPermille", "startVariationPermille"] as const;
const SENSOR_KEYS = ["meanCentiC", "swingCentiC", "meanHumidityPermille", "rssiMin", "rssiMax"] as const;
const SELECT_KEYS = ["group", "permille", "count"] as const;

export const DEFAULT_FIRMWARE = "1.0.0";
export const DEFAULT_INTERVAL_MS = 60_000;
export const DEFAULT_DRAIN_MS = 30 * 60_000;
/** The agent's own default (device/core/link/backoff.ts). */
export const DEFAULT_POWER_ON_DELAY_MAX_MS = 30_000;

/** Drops absent fields: `{...defaults, ...profile}` must not override a default with undefined. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function group(c: Checker, v: unknown, path: string, i: number): Group | undefined {
  const o = c.object(v, path, GROUP_KEYS);
  if (!o) return undefined;
  let name = `group${i}`;
  if (o.name !== undefined) {
    if (typeof o.name !== "string" || !/^[A-Za-z0-9_-]{1,32}$/.test(o.name)) c.fail(`${path}.name`, `expected 1..32 letters, digits, "_" or "-", got ${JSON.stringify(o.name)}`);
    else name = o.name;
  }
  const battery: BatteryProfile = {};
  if (o.battery !== undefined) {
    const b = c.object(o.battery, `${path}.battery`, BATTERY_KEYS);
    if (b) {
      battery.capacityMah = c.optInt(b, "capacityMah", `${path}.battery`, 1);
      battery.startPermille = c.optInt(b, "startPermille", `${path}.battery`, 0, 1000);
      battery.sleepUa = c.optInt(b, "sleepUa", `${path}.battery`, 0);
      battery.activeUa = c.optInt(b, "activeUa", `${path}.battery`, 0);
      battery.transmitUa = c.optInt(b, "transmitUa", `${path}.battery`, 0);
      battery.capacityVariationPermille = c.optInt(b, "capacityVariationPermille", `${path}.battery`, 0, 500);
      battery.startVariationPermille = c.optInt(b, "startVariationPermille", `${path}.battery`, 0, 500);
    }
  }
  const sensor: SensorProfile = {};
  if (o.sensor !== undefined) {
    const s = c.object(o.sensor, `${path}.sensor`, SENSOR_KEYS);
    if (s) {
      sensor.meanCentiC = c.optInt(s, "meanCentiC", `${path}.sensor`, -5000, 10000);
      sensor.swingCentiC = c.optInt(s, "swingCentiC", `${path}.sensor`, 0, 5000);
      sensor.meanHumidityPermille = c.optInt(s, "meanHumidityPermille", `${path}.sensor`, 0, 1000);
      sensor.rssiMin = c.optInt(s, "rssiMin", `${path}.sensor`, -120, 0);
      sensor.rssiMax = c.optInt(s, "rssiMax", `${path}.sensor`, -120, 0);
      if ((sensor.rssiMin ?? -88) > (sensor.rssiMax ?? -48)) c.fail(`${path}.sensor.rssiMin`, "must not be above rssiMax");
    }
  }
  let sampleIntervalMs = DEFAULT_INTERVAL_MS;
  let reportIntervalMs = DEFAULT_INTERVAL_MS;
  if (o.telemetry !== undefined) {
    const t = c.object(o.telemetry, `${path}.telemetry`, ["sampleInterval", "reportInterval"]);
    if (t) {
      reportIntervalMs = c.duration(t, "reportInterval", `${path}.telemetry`, DEFAULT_INTERVAL_MS, true);
      sampleIntervalMs = c.duration(t, "sampleInterval", `${path}.telemetry`, reportIntervalMs, true);
      // The agent refuses other intervals at start-up: every boot would crash and the whole
      // fleet would be reported bricked, which says nothing about the fleet.
      for (const [key, ms, { min, max }] of [
        ["reportInterval", reportIntervalMs, INTERVAL_BOUNDS.reportIntervalMs],
        ["sampleInterval", sampleIntervalMs, INTERVAL_BOUNDS.sampleIntervalMs],
      ] as const) {
        if (ms > 0 && (ms < min || ms > max)) c.fail(`${path}.telemetry.${key}`, `must be ${formatDuration(min)}..${formatDuration(max)} (what the agent accepts), got ${formatDuration(ms)}`);
      }
      if (sampleIntervalMs > reportIntervalMs) c.fail(`${path}.telemetry.sampleInterval`, "must not be longer than reportInterval");
    }
  }
  let driftPpm = 0;
  let timeSync = true;
  if (o.clock !== undefined) {
    const k = c.object(o.clock, `${path}.clock`, ["driftPpm", "timeSync"]);
    if (k) {
      driftPpm = c.int(k, "driftPpm", `${path}.clock`, -100_000, 0, 100_000);
      timeSync = c.bool(k, "timeSync", `${path}.clock`, true);
    }
  }
  const powerOnDelay = c.duration(o, "powerOnDelayMax", path, DEFAULT_POWER_ON_DELAY_MAX_MS);
  return {
    name,
    battery: defined(battery),
    sensor: defined(sensor),
    weight: c.int(o, "weight", path, 1, 1),
    firmware: c.version(o, "firmware", path, DEFAULT_FIRMWARE),
    sampleIntervalMs,
    reportIntervalMs,
    driftPpm,
    timeSync,
    ...(o.keepAlive === undefined ? {} : { keepAliveSec: keepAliveSec(c, o, path) }),
    powerOnDelayMaxMs: powerOnDelay,
    otaHealthTimeoutMs: c.duration(o, "otaHealthTimeout", path, Math.max(120_000, reportIntervalMs + powerOnDelay + 60_000), true),
    powerModel: c.bool(o, "powerModel", path, true),
    ...(o.radio === undefined ? {} : { radio: parseRadio(o.radio, `${path}.radio`, c) }),
    ...(o.hardware === undefined ? {} : { hardware: parseHardware(o.hardware, `${path}.hardware`, (p, w) => c.fail(p, w)) }),
    ...(o.charger === undefined ? {} : { charger: parseCharger(o.charger, `${path}.charger`, (p, w) => c.fail(p, w), parseDuration) }),
  };
}

/** An explicit `keepAlive` (the caller checked it is there); absent, the agent picks its own. */
function keepAliveSec(c: Checker, o: Obj, path: string): number | undefined {
  const problems = c.problems.length;
  const ms = c.duration(o, "keepAlive", path, undefined, true);
  if (c.problems.length > problems) return undefined; // not a duration: already said
  const { min, max } = INTERVAL_BOUNDS.keepAliveSec;
  if (ms % 1000 !== 0 || ms < min * 1000 || ms > max * 1000) {
    c.fail(`${path}.keepAlive`, `expected whole seconds, ${min}..${max} s (what the agent accepts)`);
    return undefined;
  }
  return ms / 1000;
}

function selector(c: Checker, o: Obj, path: string, groups: Set<string>): Selector {
  if (o.devices === undefined) return {};
  const s = c.object(o.devices, `${path}.devices`, SELECT_KEYS);
  if (!s) return {};
  const out: Selector = {};
  if (s.group !== undefined) {
    if (typeof s.group !== "string" || !groups.has(s.group)) c.fail(`${path}.devices.group`, `no group named ${JSON.stringify(s.group)} (groups: ${[...groups].join(", ")})`);
    else out.group = s.group;
  }
  out.permille = c.optInt(s, "permille", `${path}.devices`, 0, 1000);
  out.count = c.optInt(s, "count", `${path}.devices`, 0);
  if (out.permille !== undefined && out.count !== undefined) c.fail(`${path}.devices`, "give permille or count, not both");
  return out;
}

const FAULT_KEYS: Record<Fault["kind"], readonly string[]> = {
  "broker-outage": ["at", "for"],
  "broker-restart": ["at", "loseSessions"],
  "link-flap": ["at", "perDeviceDay", "for", "devices"],
  latency: ["at", "for", "ms"],
  loss: ["at", "for", "permille"],
  "power-cut": ["at", "perDeviceDay", "off", "duringFlashWrite", "devices"],
  "flash-error": ["at", "for", "permille", "devices"],
  "clock-drift": ["at", "ppm", "devices"],
  "time-sync-fail": ["at", "for", "devices"],
  "battery-drain": ["at", "for", "ua", "devices"],
  hostile: ["at", "message", "topic", "bytes", "depth", "firmware", "signedAs", "devices"],
};

function timing(c: Checker, o: Obj, path: string): FaultTiming {
  if (o.perDeviceDay !== undefined) {
    if (o.at !== undefined) c.fail(path, 'give "at" or "perDeviceDay", not both');
    const r = o.perDeviceDay;
    if (typeof r !== "number" || !(r > 0) || r > 10_000) c.fail(`${path}.perDeviceDay`, `expected a rate in (0, 10000] per device per day, got ${JSON.stringify(r)}`);
    return { perDeviceDay: typeof r === "number" && r > 0 ? r : 1 };
  }
  return { at: c.duration(o, "at", path, undefined) };
}

function fault(c: Checker, v: unknown, path: string, groups: Set<string>): Fault | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return c.fail(path, "expected an object");
  const kind = (v as Obj).kind;
  const keys = FAULT_KEYS[kind as Fault["kind"]];
  if (typeof kind !== "string" || keys === undefined) return c.fail(`${path}.kind`, `expected one of ${Object.keys(FAULT_KEYS).join(", ")}, got ${JSON.stringify(kind)}`);
  const o = c.object(v, path, ["kind", ...keys])!;
  const at = () => c.duration(o, "at", path, undefined);
  const forMs = (fallback?: number) => c.duration(o, "for", path, fallback, true);
  switch (kind as Fault["kind"]) {
    case "broker-outage":
      return { kind: "broker-outage", at: at(), forMs: forMs() };
    case "broker-restart":
      return { kind: "broker-restart", at: at(), loseSessions: c.bool(o, "loseSessions", path, true) };
    case "link-flap":
      return { kind: "link-flap", timing: timing(c, o, path), forMs: forMs(60_000), select: selector(c, o, path, groups) };
    case "latency":
      return { kind: "latency", at: at(), forMs: forMs(), ms: c.int(o, "ms", path, 1, 500, 60_000) };
    case "loss":
      return { kind: "loss", at: at(), forMs: forMs(), permille: c.int(o, "permille", path, 1, 10, 1000) };
    case "power-cut":
      return {
        kind: "power-cut",
        timing: timing(c, o, path),
        offMs: c.duration(o, "off", path, 10_000),
        duringFlashWrite: c.bool(o, "duringFlashWrite", path, false),
        select: selector(c, o, path, groups),
      };
    case "flash-error":
      return { kind: "flash-error", at: at(), forMs: forMs(), permille: c.int(o, "permille", path, 1, 1000, 1000), select: selector(c, o, path, groups) };
    case "clock-drift":
      return { kind: "clock-drift", at: c.duration(o, "at", path, 0), ppm: c.int(o, "ppm", path, -100_000, 100, 100_000), select: selector(c, o, path, groups) };
    case "time-sync-fail":
      return { kind: "time-sync-fail", at: c.duration(o, "at", path, 0), forMs: forMs(), select: selector(c, o, path, groups) };
    case "battery-drain":
      return { kind: "battery-drain", at: at(), forMs: forMs(), ua: c.int(o, "ua", path, 1, 50_000, 10_000_000), select: selector(c, o, path, groups) };
    case "hostile":
      return hostile(c, o, path, at(), selector(c, o, path, groups));
  }
}

const OFFER_MESSAGES: readonly HostileMessage[] = ["duplicate-offer", "withdrawn-offer", "version-mismatch"];

function hostile(c: Checker, o: Obj, path: string, at: number, select: Selector): Fault {
  const message = o.message as HostileMessage;
  if (!HOSTILE_MESSAGES.includes(message)) c.fail(`${path}.message`, `expected one of ${HOSTILE_MESSAGES.join(", ")}, got ${JSON.stringify(o.message)}`);
  let topic: HostileTopic = "config";
  if (o.topic !== undefined) {
    if (!HOSTILE_TOPICS.includes(o.topic as HostileTopic)) c.fail(`${path}.topic`, `expected one of ${HOSTILE_TOPICS.join(", ")}, got ${JSON.stringify(o.topic)}`);
    else topic = o.topic as HostileTopic;
  }
  const needsFirmware = OFFER_MESSAGES.includes(message);
  const firmware = needsFirmware ? c.version(o, "firmware", path, undefined) : undefined;
  if (!needsFirmware && o.firmware !== undefined) c.fail(`${path}.firmware`, `only for ${OFFER_MESSAGES.join(", ")}`);
  let signedAs: string | undefined;
  if (message === "version-mismatch") {
    signedAs = c.version(o, "signedAs", path, undefined);
    if (signedAs === firmware) c.fail(`${path}.signedAs`, "must differ from firmware (that would be an honest offer)");
  } else if (o.signedAs !== undefined) c.fail(`${path}.signedAs`, "only for version-mismatch");
  const bytes = c.int(o, "bytes", path, 1, OVERSIZED_DEFAULT_BYTES, 1_000_000);
  const depth = c.int(o, "depth", path, 1, DEEP_CBOR_DEFAULT_DEPTH, 100_000);
  if (o.bytes !== undefined && message !== "oversized") c.fail(`${path}.bytes`, "only for oversized");
  if (o.depth !== undefined && message !== "deep-cbor") c.fail(`${path}.depth`, "only for deep-cbor");
  if (o.topic !== undefined && (needsFirmware || message === "retained-poison")) c.fail(`${path}.topic`, `not for ${message} (it uses the OTA topics, or every topic)`);
  return { kind: "hostile", at, message, topic, bytes, depth, firmware, signedAs, select };
}

function offer(c: Checker, v: unknown, path: string, groups: Set<string>): OtaOffer | undefined {
  const o = c.object(v, path, ["at", "firmware", "bad", "devices"]);
  if (!o) return undefined;
  let bad: OtaOffer["bad"];
  if (o.bad !== undefined) {
    if (o.bad !== "crash" && o.bad !== "hang" && o.bad !== false) c.fail(`${path}.bad`, `expected "crash", "hang" or false, got ${JSON.stringify(o.bad)}`);
    else bad = o.bad === false ? undefined : o.bad;
  }
  return { at: c.duration(o, "at", path, undefined), firmware: c.version(o, "firmware", path, undefined), bad, select: selector(c, o, path, groups) };
}

/** Validates parsed JSON; throws ScenarioError listing every problem with its path. */
export function validateScenario(json: unknown): Scenario {
  const c = new Checker();
  const o = c.object(json, "scenario", TOP_KEYS);
  if (!o) throw new ScenarioError(c.problems);
  if (o.description !== undefined && typeof o.description !== "string") c.fail("scenario.description", "expected a string");
  const groups: Group[] = [];
  if (o.groups !== undefined) {
    const list = c.array(o.groups, "groups");
    if (list?.length === 0) c.fail("groups", "expected at least one group");
    list?.forEach((g, i) => {
      const got = group(c, g, `groups[${i}]`, i);
      if (got) groups.push(got);
    });
  }
  if (groups.length === 0 && o.groups === undefined) {
    groups.push(group(c, {}, "groups[0]", 0)!);
  }
  const names = new Set<string>();
  groups.forEach((g, i) => {
    if (names.has(g.name)) c.fail(`groups[${i}].name`, `duplicate group name "${g.name}"`);
    names.add(g.name);
  });
  const faults: Fault[] = [];
  if (o.faults !== undefined) c.array(o.faults, "faults")?.forEach((f, i) => {
    const got = fault(c, f, `faults[${i}]`, names);
    if (got) faults.push(got);
  });
  const ota: OtaOffer[] = [];
  if (o.ota !== undefined) c.array(o.ota, "ota")?.forEach((f, i) => {
    const got = offer(c, f, `ota[${i}]`, names);
    if (got) ota.push(got);
  });
  const rollouts: ScenarioRollout[] = [];
  if (o.rollouts !== undefined) c.array(o.rollouts, "rollouts")?.forEach((r, i) => {
    const path = `rollouts[${i}]`;
    if (r === null || typeof r !== "object" || Array.isArray(r)) return c.fail(path, "expected an object");
    const { at, ...request } = r as Record<string, unknown>;
    const atMs = c.duration({ at }, "at", path, undefined, true);
    if (typeof request.bundle !== "string" || !/^sim:\d{1,3}\.\d{1,3}\.\d{1,3}(:crash)?$/.test(request.bundle)) c.fail(`${path}.bundle`, `expected "sim:MAJOR.MINOR.PATCH" or "sim:MAJOR.MINOR.PATCH:crash"`);
    else if (atMs !== undefined) rollouts.push({ atMs, request });
  });
  const durationMs = o.duration === undefined ? undefined : c.duration(o, "duration", "scenario", undefined, true);
  if (o.bootModel !== undefined && !(BOOT_MODELS as readonly unknown[]).includes(o.bootModel)) c.fail("scenario.bootModel", `expected ${BOOT_MODELS.map((m) => JSON.stringify(m)).join(" or ")}, got ${JSON.stringify(o.bootModel)}`);
  const revisions = new Set(groups.flatMap((g) => (g.hardware ? Object.keys(g.hardware) : [DEFAULT_HARDWARE])));
  const firmwareBehaviour = o.firmwareBehaviour === undefined ? undefined : parseFirmwareBehaviour(o.firmwareBehaviour, "firmwareBehaviour", (p, w) => c.fail(p, w), revisions);
  const scenario: Scenario = {
    devices: c.optInt(o, "devices", "scenario", 1, 1_000_000),
    xsDevices: c.optInt(o, "xsDevices", "scenario", 0, 1_000_000),
    durationMs,
    seed: c.optInt(o, "seed", "scenario", 0, 0xffffffff),
    drainMs: c.duration(o, "drain", "scenario", DEFAULT_DRAIN_MS),
    lowBatteryPct: c.int(o, "lowBatteryPct", "scenario", 1, 20, 99),
    groups,
    faults,
    ota,
    rollouts,
    ...(firmwareBehaviour ? { firmwareBehaviour } : {}),
    ...(o.bootModel !== undefined ? { bootModel: o.bootModel as BootModelName } : {}),
  };
  if (c.problems.length > 0) throw new ScenarioError(c.problems);
  if (scenario.devices !== undefined || scenario.durationMs !== undefined) {
    const problems = scenarioFitProblems(scenario, scenario.devices, scenario.durationMs);
    if (problems.length > 0) throw new ScenarioError(problems);
  }
  return scenario;
}

/**
 * What does not fit the run: a fault or offer timed after its end (it would silently never
 * happen), or a device count larger than the fleet or group it picks from. Checked against the
 * scenario's own devices/duration, and again against the CLI's --devices/--duration.
 */
export function scenarioFitProblems(s: Scenario, devices: number | undefined, durationMs: number | undefined): string[] {
  const problems: string[] = [];
  const sizes = new Map<string, number>();
  if (devices !== undefined) {
    const groupFor = groupOfScenario(s.groups, devices);
    for (let i = 0; i < devices; i++) {
      const g = groupFor(i).name;
      sizes.set(g, (sizes.get(g) ?? 0) + 1);
    }
  }
  if (devices !== undefined && s.xsDevices !== undefined && s.xsDevices > devices) {
    problems.push(`scenario.xsDevices: ${s.xsDevices} devices in XS asked for, but the fleet has ${devices}`);
  }
  const check = (path: string, at: number | undefined, sel: Selector) => {
    if (durationMs !== undefined && at !== undefined && at >= durationMs) {
      problems.push(`${path}.at: ${formatDuration(at)} is not before the end of the run (${formatDuration(durationMs)}); it would never happen`);
    }
    if (devices !== undefined && sel.count !== undefined) {
      const of = sel.group === undefined ? devices : (sizes.get(sel.group) ?? 0);
      if (sel.count > of) {
        const where = sel.group === undefined ? `the fleet has ${devices}` : `group "${sel.group}" has ${of} of the fleet's ${devices}`;
        problems.push(`${path}.devices.count: ${sel.count} devices asked for, but ${where}`);
      }
    }
  };
  s.faults.forEach((f, i) => {
    const at = "timing" in f ? ("at" in f.timing ? f.timing.at : undefined) : f.at;
    check(`faults[${i}]`, at, "select" in f ? f.select : {});
  });
  s.ota.forEach((o, i) => check(`ota[${i}]`, o.at, o.select));
  return problems;
}

/** Throws ScenarioError when the scenario does not fit a run of `devices` for `durationMs`. */
export function checkScenarioFits(s: Scenario, devices: number, durationMs: number): void {
  const problems = scenarioFitProblems(s, devices, durationMs);
  if (problems.length > 0) throw new ScenarioError(problems);
}

/** Device index → group, in proportion to the group weights (remainder to the first groups). */
export function groupOfScenario(groups: Group[], devices: number): (index: number) => Group {
  const total = groups.reduce((a, g) => a + g.weight, 0);
  const counts = groups.map((g) => Math.floor((devices * g.weight) / total));
  let left = devices - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % groups.length, left--) counts[i]++;
  const ends: number[] = [];
  counts.reduce((a, c) => (ends.push(a + c), a + c), 0);
  return (index) => groups[ends.findIndex((e) => index < e)];
}

/** Parses scenario text (JSON); syntax errors become ScenarioError too. */
export function parseScenario(text: string, source = "scenario"): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError([`${source}: not valid JSON: ${(e as Error).message}`]);
  }
  return validateScenario(json);
}

/** The scenario `tether sim` runs without --scenario: one group, no faults. */
export function defaultScenario(): Scenario {
  return validateScenario({});
}

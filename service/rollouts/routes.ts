/** HTTP routes of rollouts: create, list, status, devices, pause, resume, cancel. */
import { HttpError, type HttpApi } from "../http/server";
import { bodyObject, needString, optBool, optInt, optString, type Fields } from "../http/validate";
import { RolloutError, type RolloutRunner } from "./runner";
import { DEFAULTS, SpecError, checkWaves, parseDurationMs, parsePercent, parseRate, parseWaves, type ExponentialRate, type RolloutSpec } from "./spec";

const ID = /^r\d{4,}$/;
export const CREATE_FIELDS = [
  "bundle", "target", "canary", "waves", "rate", "exponential", "maxFailure", "minExecuted", "timeout", "soak", "successThreshold",
  "minBattery", "maxRetries", "maxInterrupted", "rollbackBundle", "healthMargin", "healthMinDevices", "healthAlpha", "rollbackOnHalt",
] as const;

function spec<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof SpecError) throw new HttpError(400, err.message);
    throw err;
  }
}

/** "5%" or 5. */
function percent(o: Fields, key: string, dflt: number): number {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === "number") return spec(() => parsePercent(String(v), key));
  if (typeof v === "string") return spec(() => parsePercent(v, key));
  throw new HttpError(400, `"${key}" must be a percentage like "5%"`);
}

/** "30m" or milliseconds. */
function duration(o: Fields, key: string, dflt: number): number {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  if (typeof v === "string") return spec(() => parseDurationMs(v, key));
  throw new HttpError(400, `"${key}" must be a duration like "30m" or a number of milliseconds`);
}

function exponential(v: unknown): ExponentialRate | undefined {
  if (v === undefined || v === null) return undefined;
  const o = bodyObject(v, ["baseRatePerMinute", "incrementFactor", "notifiedThreshold", "succeededThreshold"]);
  const base = o.baseRatePerMinute;
  const factor = o.incrementFactor;
  if (typeof base !== "number" || !(base > 0) || base > 1_000_000) throw new HttpError(400, `"exponential.baseRatePerMinute" must be a number above 0`);
  if (typeof factor !== "number" || !(factor >= 1.1 && factor <= 5)) throw new HttpError(400, `"exponential.incrementFactor" must be in 1.1..5 (as AWS IoT Jobs)`);
  const notified = optInt(o, "notifiedThreshold", 1, 1_000_000);
  const succeeded = optInt(o, "succeededThreshold", 1, 1_000_000);
  if ((notified === undefined) === (succeeded === undefined)) throw new HttpError(400, `"exponential" needs exactly one of notifiedThreshold, succeededThreshold`);
  return { baseRatePerMinute: base, incrementFactor: factor, notifiedThreshold: notified, succeededThreshold: succeeded };
}

/** Validates a create request into a spec (without the manifest's version, which the runner reads). */
export function parseCreate(body: unknown): Omit<RolloutSpec, "version" | "hardwareId" | "rollbackVersion"> {
  const o = bodyObject(body, CREATE_FIELDS);
  const waves = o.waves === undefined ? [...DEFAULTS.waves] : typeof o.waves === "string" ? spec(() => parseWaves(o.waves as string)) : Array.isArray(o.waves) ? o.waves : undefined;
  if (!waves || !waves.every((w) => typeof w === "number")) throw new HttpError(400, `"waves" must be "5%,25%,100%" or [5, 25, 100]`);
  spec(() => checkWaves(waves as number[]));
  const rate = o.rate === undefined ? DEFAULTS.ratePerMinute : typeof o.rate === "string" ? spec(() => parseRate(o.rate as string)) : typeof o.rate === "number" && o.rate > 0 ? o.rate : NaN;
  if (!(rate > 0)) throw new HttpError(400, `"rate" must be like "100/min" or a number of offers per minute`);
  const rollbackOnHalt = optBool(o, "rollbackOnHalt") ?? false;
  const rollbackBundle = optString(o, "rollbackBundle");
  if (rollbackOnHalt && !rollbackBundle) throw new HttpError(400, `"rollbackOnHalt" needs "rollbackBundle" (the previous version, signed with a higher version number)`);
  const alpha = o.healthAlpha === undefined ? DEFAULTS.health.alpha : o.healthAlpha;
  if (typeof alpha !== "number" || !(alpha > 0 && alpha < 0.5)) throw new HttpError(400, `"healthAlpha" must be a number in (0, 0.5)`);
  return {
    bundle: needString(o, "bundle"),
    target: needString(o, "target"),
    canary: optInt(o, "canary", 0, 1_000_000) ?? DEFAULTS.canary,
    waves: waves as number[],
    ratePerMinute: rate,
    exponential: exponential(o.exponential),
    maxFailurePct: percent(o, "maxFailure", DEFAULTS.maxFailurePct),
    minExecuted: optInt(o, "minExecuted", 1, 1_000_000) ?? DEFAULTS.minExecuted,
    timeoutMs: duration(o, "timeout", DEFAULTS.timeoutMs),
    soakMs: o.soak === 0 || o.soak === "0" ? 0 : duration(o, "soak", DEFAULTS.soakMs),
    successThresholdPct: percent(o, "successThreshold", DEFAULTS.successThresholdPct),
    minBatteryPct: percent(o, "minBattery", DEFAULTS.minBatteryPct),
    maxRetries: optInt(o, "maxRetries", 0, 100) ?? DEFAULTS.maxRetries,
    maxInterrupted: optInt(o, "maxInterrupted", 0, 100) ?? DEFAULTS.maxInterrupted,
    rollbackBundle: rollbackOnHalt ? rollbackBundle : undefined,
    health: {
      marginPct: percent(o, "healthMargin", DEFAULTS.health.marginPct),
      minDevices: optInt(o, "healthMinDevices", 2, 1_000_000) ?? DEFAULTS.health.minDevices,
      alpha,
    },
  };
}

function rolloutId(id: string): string {
  if (!ID.test(id)) throw new HttpError(400, `"${id}" is not a rollout id (like r0001)`);
  return id;
}

function api<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof RolloutError) throw new HttpError(err.status, err.message);
    throw err;
  }
}

export function registerRolloutRoutes(http: HttpApi, runner: RolloutRunner): void {
  http.route("POST", "/api/rollouts", ({ body }) => {
    const s = parseCreate(body);
    const created = api(() => runner.create(s));
    return { status: 201, body: { ...created, rollout: runner.status(created.id) } };
  });
  http.route("GET", "/api/rollouts", () => ({ body: { rollouts: runner.list() } }));
  http.route("GET", "/api/rollouts/:id", ({ params }) => ({ body: api(() => runner.status(rolloutId(params.id))) }));
  http.route("GET", "/api/rollouts/:id/devices", ({ params, query }) => {
    const state = query.get("state");
    const devices = api(() => runner.devices(rolloutId(params.id)));
    return { body: { devices: state === null ? devices : devices.filter((d) => d.state === state) } };
  });
  for (const command of ["pause", "resume", "cancel"] as const) {
    http.route("POST", `/api/rollouts/:id/${command}`, ({ params, body }) => {
      bodyObject(body, []);
      api(() => runner.command(rolloutId(params.id), command));
      return { body: runner.status(params.id) };
    });
  }
}

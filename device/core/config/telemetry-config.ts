/**
 * Backend → device configuration of telemetry (tether/<id>/config), as a pure validator and
 * applier: a message either yields a complete new config, or an error and no change at all.
 * Wire format (CBOR, small integer keys) is in docs/protocol/telemetry.md.
 */
import { KvError, rethrowHalt, type KeyValueStore, type Log } from "../../ports";
import { utf8Decode, utf8Encode } from "../mqtt/utf8";
import { cborDecode, cborEncode } from "../util/cbor";
import { readCutSafe, writeCutSafe } from "../util/cut-safe-kv";
import type { TelemetryConfig } from "../telemetry/reporter";

// ---------------------------------------------------------------- wire constants
/** Request map keys. */
export const CFG = { requestId: 0, reportIntervalSec: 1, sampleIntervalSec: 2 } as const;
/** Result map keys. */
export const CFG_RESULT = { requestId: 0, code: 1, error: 2, reportIntervalSec: 3, sampleIntervalSec: 4 } as const;
/** JSON names for humans at a shell (mosquitto_pub -m '{"reportIntervalSec":60}'). */
export const CFG_JSON_NAMES: Record<string, number> = { id: CFG.requestId, reportIntervalSec: CFG.reportIntervalSec, sampleIntervalSec: CFG.sampleIntervalSec };
/** A JSON request starts with "{" (0x7b): as CBOR that byte is a text string, never a map. */
const JSON_OPEN = 0x7b;
/** Result codes. */
export const CONFIG_CODE = { ok: 0, malformed: 1, unknownKey: 2, outOfRange: 3, storageFailed: 4, tooFrequent: 5 } as const;
export type ConfigCode = (typeof CONFIG_CODE)[keyof typeof CONFIG_CODE];

export const LIMITS = {
  sampleIntervalSec: { min: 1, max: 86_400 },
  reportIntervalSec: { min: 5, max: 86_400 },
} as const;
/** Larger messages are refused before decoding (MCU heap). */
export const CONFIG_MAX_BYTES = 256;
/** KV key the accepted config is persisted under (≤ 15 chars, NVS). */
export const CONFIG_KV_KEY = "tcfg";

export type ConfigFormat = "cbor" | "json";
export type ConfigOutcome =
  | { ok: true; requestId?: number; config: TelemetryConfig; changed: boolean; format?: ConfigFormat }
  | { ok: false; requestId?: number; code: ConfigCode; error: string; format?: ConfigFormat };

function fail(code: ConfigCode, error: string, requestId?: number): ConfigOutcome {
  return requestId === undefined ? { ok: false, code, error } : { ok: false, requestId, code, error };
}

/** A JSON request as the same Map a CBOR one decodes to, or an error text. */
function jsonToMap(bytes: Uint8Array): Map<unknown, unknown> | string {
  const text = utf8Decode(bytes, 0, bytes.length);
  if (text === undefined) return "not UTF-8";
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return "config must be a JSON object";
  const m = new Map<unknown, unknown>();
  for (const [name, v] of Object.entries(obj)) m.set(Object.hasOwn(CFG_JSON_NAMES, name) ? CFG_JSON_NAMES[name] : name, v);
  return m;
}

function intIn(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Validates a config message against the current config and returns the config that would
 * result. Unknown keys and partial validity are errors: nothing is applied unless all is.
 */
export function evaluateConfigMessage(current: TelemetryConfig, bytes: Uint8Array): ConfigOutcome {
  const format: ConfigFormat = bytes.length > 0 && bytes[0] === JSON_OPEN ? "json" : "cbor";
  const o = evaluate(current, bytes, format);
  o.format = format;
  return o;
}

function evaluate(current: TelemetryConfig, bytes: Uint8Array, format: ConfigFormat): ConfigOutcome {
  if (bytes.length > CONFIG_MAX_BYTES) return fail(CONFIG_CODE.malformed, `message is ${bytes.length} bytes, limit ${CONFIG_MAX_BYTES}`);
  let raw: unknown;
  if (format === "json") {
    raw = jsonToMap(bytes);
    if (typeof raw === "string") return fail(CONFIG_CODE.malformed, raw);
  } else {
    try {
      raw = cborDecode(bytes);
    } catch (e) {
      return fail(CONFIG_CODE.malformed, `not CBOR: ${(e as Error).message}`);
    }
  }
  if (!(raw instanceof Map)) return fail(CONFIG_CODE.malformed, "config must be a CBOR map");
  let requestId: number | undefined;
  if (raw.has(CFG.requestId)) {
    const id = raw.get(CFG.requestId);
    if (!intIn(id, 0, 0xffffffff)) return fail(CONFIG_CODE.malformed, "request id (key 0) must be a uint32");
    requestId = id;
  }
  for (const k of raw.keys()) {
    if (k !== CFG.requestId && k !== CFG.reportIntervalSec && k !== CFG.sampleIntervalSec) {
      return fail(CONFIG_CODE.unknownKey, `unknown key ${typeof k === "string" ? JSON.stringify(k) : String(k)}`, requestId);
    }
  }
  const next = { ...current };
  const fields = [
    [CFG.reportIntervalSec, "reportIntervalSec", "reportIntervalMs"],
    [CFG.sampleIntervalSec, "sampleIntervalSec", "sampleIntervalMs"],
  ] as const;
  for (const [key, name, field] of fields) {
    if (!raw.has(key)) continue;
    const v = raw.get(key);
    const { min, max } = LIMITS[name];
    if (!intIn(v, min, max)) return fail(CONFIG_CODE.outOfRange, `${name} (key ${key}) must be an integer ${min}..${max}`, requestId);
    next[field] = v * 1000;
  }
  if (next.reportIntervalMs < next.sampleIntervalMs) {
    return fail(CONFIG_CODE.outOfRange, "reportIntervalSec must be ≥ sampleIntervalSec", requestId);
  }
  const changed = next.reportIntervalMs !== current.reportIntervalMs || next.sampleIntervalMs !== current.sampleIntervalMs;
  return requestId === undefined ? { ok: true, config: next, changed } : { ok: true, requestId, config: next, changed };
}

/**
 * The reply for config/result: echoes the request id, the code, and the config in force.
 * CBOR, or JSON with the names of CFG_JSON_NAMES when the request was JSON.
 */
export function encodeConfigResult(outcome: ConfigOutcome, inForce: TelemetryConfig): Uint8Array {
  if (outcome.format === "json") {
    const o: Record<string, unknown> = {};
    if (outcome.requestId !== undefined) o.id = outcome.requestId;
    o.code = outcome.ok ? CONFIG_CODE.ok : outcome.code;
    if (!outcome.ok) o.error = outcome.error;
    o.reportIntervalSec = Math.floor(inForce.reportIntervalMs / 1000);
    o.sampleIntervalSec = Math.floor(inForce.sampleIntervalMs / 1000);
    return utf8Encode(JSON.stringify(o));
  }
  const m = new Map<number, unknown>();
  if (outcome.requestId !== undefined) m.set(CFG_RESULT.requestId, outcome.requestId);
  m.set(CFG_RESULT.code, outcome.ok ? CONFIG_CODE.ok : outcome.code);
  if (!outcome.ok) m.set(CFG_RESULT.error, outcome.error);
  m.set(CFG_RESULT.reportIntervalSec, Math.floor(inForce.reportIntervalMs / 1000));
  m.set(CFG_RESULT.sampleIntervalSec, Math.floor(inForce.sampleIntervalMs / 1000));
  return cborEncode(m);
}

/** Builds a config request (for the CLI, tests and backends written in TS). */
export function encodeConfigRequest(req: { requestId?: number; reportIntervalSec?: number; sampleIntervalSec?: number }): Uint8Array {
  const m = new Map<number, number>();
  if (req.requestId !== undefined) m.set(CFG.requestId, req.requestId);
  if (req.reportIntervalSec !== undefined) m.set(CFG.reportIntervalSec, req.reportIntervalSec);
  if (req.sampleIntervalSec !== undefined) m.set(CFG.sampleIntervalSec, req.sampleIntervalSec);
  return cborEncode(m);
}

export interface ConfigResult {
  requestId?: number;
  code: number;
  error?: string;
  reportIntervalSec: number;
  sampleIntervalSec: number;
}

export function decodeConfigResult(bytes: Uint8Array): ConfigResult {
  const m = cborDecode(bytes);
  if (!(m instanceof Map)) throw new Error("config result must be a CBOR map");
  const r: ConfigResult = {
    code: m.get(CFG_RESULT.code) as number,
    reportIntervalSec: m.get(CFG_RESULT.reportIntervalSec) as number,
    sampleIntervalSec: m.get(CFG_RESULT.sampleIntervalSec) as number,
  };
  if (m.has(CFG_RESULT.requestId)) r.requestId = m.get(CFG_RESULT.requestId) as number;
  if (m.has(CFG_RESULT.error)) r.error = m.get(CFG_RESULT.error) as string;
  return r;
}

// ---------------------------------------------------------------- persistence
export function saveTelemetryConfig(kv: KeyValueStore, c: TelemetryConfig): void {
  writeCutSafe(kv, CONFIG_KV_KEY, encodeConfigRequest({ reportIntervalSec: c.reportIntervalMs / 1000, sampleIntervalSec: c.sampleIntervalMs / 1000 }));
}

/** The persisted config, or `defaults` when none is stored or it is unreadable (logged). */
export function loadTelemetryConfig(kv: KeyValueStore, defaults: TelemetryConfig, log?: Log): TelemetryConfig {
  let bytes: Uint8Array | undefined;
  try {
    bytes = readCutSafe(kv, CONFIG_KV_KEY);
  } catch (e) {
    rethrowHalt(e);
    log?.("warn", `config: cannot read stored config: ${(e as Error).message}`);
    return { ...defaults };
  }
  if (bytes === undefined) return { ...defaults };
  const o = evaluateConfigMessage(defaults, bytes);
  if (!o.ok) {
    log?.("warn", `config: stored config ignored (${o.error}); using defaults`);
    return { ...defaults };
  }
  return o.config;
}

/**
 * Evaluate, persist, then report the outcome. Persisting comes before applying so a
 * reboot never reverts an acknowledged change; a storage failure changes nothing. Only a
 * change is written (one KV write); a refused or unchanged request writes nothing.
 * `retryInMs` > 0 means the write budget is spent: a change is refused (code 5) unwritten.
 */
export function acceptConfigMessage(
  current: TelemetryConfig,
  bytes: Uint8Array,
  kv: KeyValueStore | undefined,
  retryInMs = 0,
): { outcome: ConfigOutcome; config: TelemetryConfig; reply: Uint8Array } {
  let outcome = evaluateConfigMessage(current, bytes);
  if (outcome.ok && outcome.changed && kv && retryInMs > 0) {
    const format = outcome.format;
    outcome = fail(CONFIG_CODE.tooFrequent, `too many config changes: retry in ${Math.ceil(retryInMs / 1000)} s`, outcome.requestId);
    outcome.format = format;
  } else if (outcome.ok && outcome.changed && kv) {
    try {
      saveTelemetryConfig(kv, outcome.config);
    } catch (e) {
      rethrowHalt(e);
      const msg = e instanceof KvError ? `${e.code}: ${e.message}` : (e as Error).message;
      const format = outcome.format;
      outcome = fail(CONFIG_CODE.storageFailed, `cannot persist config: ${msg}`, outcome.requestId);
      outcome.format = format;
    }
  }
  const config = outcome.ok ? outcome.config : current;
  return { outcome, config, reply: encodeConfigResult(outcome, config) };
}

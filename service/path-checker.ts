/**
 * Validation of a parsed JSON file that collects every problem with its path ("groups[2].battery.
 * sleepUa: expected ..."), so one run names them all. The rules file (service/health/config.ts)
 * and scenario files (host-sim/fleet/scenario.ts) both check with it. A wrong value gets a
 * problem and the fallback, so checking goes on.
 */
import { parseServiceDuration } from "./duration";

export type Obj = Record<string, unknown>;

export class PathChecker {
  readonly problems: string[] = [];

  fail(path: string, what: string): undefined {
    this.problems.push(`${path}: ${what}`);
    return undefined;
  }

  /** An object with only `keys`; anything else is a problem. */
  object(v: unknown, path: string, keys: readonly string[]): Obj | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(path, "expected an object");
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.fail(`${path}.${k}`, `unknown key (allowed: ${keys.join(", ")})`);
    return v as Obj;
  }

  /** An optional section: absent means all its defaults ({}). */
  section(v: unknown, path: string, keys: readonly string[]): Obj {
    return v === undefined ? {} : (this.object(v, path, keys) ?? {});
  }

  array(v: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(v)) return this.fail(path, "expected an array");
    return v;
  }

  int(o: Obj, key: string, path: string, min: number, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? "a positive integer" : min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`) : `an integer in ${min}..${max}`;
      this.fail(`${path}.${key}`, `expected ${range}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }

  optInt(o: Obj, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (o[key] === undefined) return undefined;
    const before = this.problems.length;
    const n = this.int(o, key, path, min, NaN, max);
    return this.problems.length > before ? undefined : n;
  }

  /** Any finite number in min..max. */
  num(o: Obj, key: string, path: string, min: number, fallback: number, max: number): number {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
      this.fail(`${path}.${key}`, `expected a number in ${min}..${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }

  bool(o: Obj, key: string, path: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") {
      this.fail(`${path}.${key}`, `expected true or false, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }

  /** A non-empty string; required when there is no fallback. */
  str(o: Obj, key: string, path: string, fallback?: string): string {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string" || v.length === 0) {
      this.fail(`${path}.${key}`, `expected a non-empty string, got ${JSON.stringify(v)}`);
      return fallback ?? "";
    }
    return v;
  }

  /** An array of non-empty strings (names). */
  strings(o: Obj, key: string, path: string, fallback: string[]): string[] {
    const v = o[key];
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x.length === 0)) {
      this.fail(`${path}.${key}`, `expected an array of names, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v as string[];
  }

  /** A duration ("90s", "15m", "36h", "7d" or integer ms); required when there is no fallback. */
  duration(o: Obj, key: string, path: string, fallback: number | undefined, positive = false): number {
    const v = o[key];
    if (v === undefined) {
      if (fallback === undefined) this.fail(`${path}.${key}`, "required duration is missing");
      return fallback ?? 0;
    }
    const ms = parseServiceDuration(v);
    if (ms === undefined || (positive && ms === 0)) {
      this.fail(`${path}.${key}`, `expected a ${positive ? "positive " : ""}duration like "90s", "15m", "36h", "7d" or integer ms, got ${JSON.stringify(v)}`);
      return fallback ?? 0;
    }
    return ms;
  }
}

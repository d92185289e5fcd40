/** Request validation: every field checked, unknown fields refused, each error a 400 with the field's name. */
import { HttpError } from "./server";

export type Fields = Record<string, unknown>;

export function bodyObject(body: unknown, allowed: readonly string[]): Fields {
  if (body === undefined) return {};
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "request body must be a JSON object");
  const o = body as Fields;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new HttpError(400, `unknown field "${k}" (allowed: ${allowed.join(", ")})`);
  return o;
}

export function optString(o: Fields, key: string, pattern?: RegExp, what?: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new HttpError(400, `"${key}" must be a string`);
  if (pattern && !pattern.test(v)) throw new HttpError(400, `"${key}": ${what ?? `must match ${pattern}`}, got "${v}"`);
  return v;
}

export function needString(o: Fields, key: string, pattern?: RegExp, what?: string): string {
  const v = optString(o, key, pattern, what);
  if (v === undefined) throw new HttpError(400, `"${key}" is required`);
  return v;
}

export function optInt(o: Fields, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new HttpError(400, `"${key}" must be an integer in ${min}..${max}`);
  return v;
}

export function optBool(o: Fields, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new HttpError(400, `"${key}" must be true or false`);
  return v;
}

/** A query parameter as an integer in range (or the default). */
export function queryInt(q: URLSearchParams, key: string, min: number, max: number, dflt: number): number {
  const v = q.get(key);
  if (v === null || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `query "${key}" must be an integer in ${min}..${max}`);
  return n;
}

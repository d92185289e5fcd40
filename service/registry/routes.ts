/** HTTP routes of the registry: GET /api/devices, GET /api/devices/:id (with the modules' parts), PATCH /api/devices/:id (labels). */
import { DEVICE_ID_RULE, isDeviceId } from "../../device/core/topics";
import type { ServiceClock } from "../clock";
import { HttpError, type HttpApi } from "../http/server";
import { bodyObject, optString, queryInt } from "../http/validate";
import type { Registry } from "./registry";

const LABEL = /^[A-Za-z0-9._-]{1,64}$/;
const LABEL_TEXT = "1..64 characters from A-Z a-z 0-9 . _ -";

function deviceId(id: string): string {
  if (!isDeviceId(id)) throw new HttpError(400, `"${id}" is not a device id (${DEVICE_ID_RULE})`);
  return id;
}

function queryLabel(q: URLSearchParams, key: string): string | undefined {
  const v = q.get(key);
  if (v === null) return undefined;
  if (!LABEL.test(v)) throw new HttpError(400, `query "${key}": ${LABEL_TEXT}`);
  return v;
}

/** A module's section of the device entry (GET /api/devices/ID), e.g. proactive support's `diagnosis`. */
export type DeviceEntryPart = (id: string) => Record<string, unknown>;

export function registerDeviceRoutes(api: HttpApi, registry: Registry, clock: ServiceClock, parts: readonly DeviceEntryPart[] = []): void {
  api.route("GET", "/api/devices", ({ query }) => {
    for (const k of query.keys()) {
      if (!["firmware", "group", "hardware", "online", "prefix", "limit", "offset"].includes(k)) throw new HttpError(400, `unknown query parameter "${k}"`);
    }
    const online = query.get("online");
    if (online !== null && online !== "true" && online !== "false") throw new HttpError(400, `query "online" must be true or false`);
    const prefix = query.get("prefix") ?? undefined;
    if (prefix !== undefined && !/^[A-Za-z0-9._-]{1,48}$/.test(prefix)) throw new HttpError(400, `query "prefix" must be part of a device id`);
    const result = registry.list({
      firmware: queryLabel(query, "firmware"),
      group: queryLabel(query, "group"),
      hardware: queryLabel(query, "hardware"),
      online: online === null ? undefined : online === "true",
      prefix,
      limit: queryInt(query, "limit", 1, 10_000, 100),
      offset: queryInt(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0),
    });
    return { body: result };
  });

  api.route("GET", "/api/devices/:id", ({ params, query }) => {
    const id = deviceId(params.id);
    const device = registry.get(id);
    if (!device) throw new HttpError(404, `no device "${id}" in the registry`);
    const body: Record<string, unknown> = { device, ...registry.history(id, queryInt(query, "history", 0, 10_000, 50)) };
    for (const part of parts) Object.assign(body, part(id));
    return { body };
  });

  api.route("PATCH", "/api/devices/:id", ({ params, body }) => {
    const id = deviceId(params.id);
    const o = bodyObject(body, ["group", "hardware"]);
    const group = o.group === null ? null : optString(o, "group", LABEL, LABEL_TEXT);
    const hardware = o.hardware === null ? null : optString(o, "hardware", LABEL, LABEL_TEXT);
    if (group === undefined && hardware === undefined) throw new HttpError(400, `nothing to change: give "group" and/or "hardware"`);
    registry.setLabels(id, { group, hardware }, clock.now());
    return { body: { device: registry.get(id) } };
  });
}

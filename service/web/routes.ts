/**
 * HTTP routes of proactive support: health overview and device list (aggregated server-side),
 * alerts (list, CSV export, acknowledge), actions outbox, remote diagnosis, commissioning, the
 * server-sent event stream, and the dashboard page with its bundled script and styles.
 */
import type http from "node:http";
import { DEVICE_ID_RULE, isDeviceId } from "../../device/core/topics";
import { parseServiceDuration } from "../duration";
import { alertCsvHeader, alertCsvRow, type AlertState } from "../health/alert-store";
import type { ProactiveSupport } from "../health/module";
import type { RuleName } from "../health/rules";
import { HttpError, type HttpApi } from "../http/server";
import { queryInt } from "../http/validate";
import { dashboardHtml, webAssets } from "./assets";
import { devicePage, diagnosis, overview, type DeviceSort } from "./overview";

const STATES = ["open", "acknowledged", "resolved", "unresolved"];
const RULES = ["lowBattery", "poorConnectivity", "offline", "cohort"];
const SORTS = ["id", "battery", "rssi", "lastSeen", "alerts"];
/** The longest an HTTP commissioning call may wait (the CLI polls again past this). */
export const MAX_COMMISSION_WAIT_MS = 30 * 60_000;
/** How often the event stream says "the fleet changed" while telemetry arrives. */
const FLEET_EVENT_MS = 2000;
const SSE_KEEPALIVE_MS = 25_000;
const OVERVIEW_CACHE_MS = 1000;

function deviceId(id: string): string {
  if (!isDeviceId(id)) throw new HttpError(400, `"${id}" is not a device id (${DEVICE_ID_RULE})`);
  return id;
}

function oneOf(q: URLSearchParams, key: string, allowed: string[]): string | undefined {
  const v = q.get(key);
  if (v === null) return undefined;
  if (!allowed.includes(v)) throw new HttpError(400, `query "${key}" must be one of ${allowed.join(", ")}`);
  return v;
}

function onlyKeys(q: URLSearchParams, allowed: string[]): void {
  for (const k of q.keys()) if (!allowed.includes(k)) throw new HttpError(400, `unknown query parameter "${k}" (allowed: ${allowed.join(", ")})`);
}

function alertQuery(q: URLSearchParams) {
  onlyKeys(q, ["state", "rule", "device", "limit", "offset"]);
  const device = q.get("device");
  return {
    state: oneOf(q, "state", STATES) as AlertState | "unresolved" | undefined,
    rule: oneOf(q, "rule", RULES) as RuleName | undefined,
    deviceId: device === null ? undefined : deviceId(device),
    limit: queryInt(q, "limit", 1, 10_000, 100),
    offset: queryInt(q, "offset", 0, Number.MAX_SAFE_INTEGER, 0),
  };
}

export function registerWebRoutes(api: HttpApi, p: ProactiveSupport, dashboard: boolean): void {
  const e = p.engine;
  const now = () => p.service.clock.now();
  let cached: { at: number; value: ReturnType<typeof overview> } | undefined;

  api.route("GET", "/api/health/overview", () => {
    const t = now();
    if (!cached || t - cached.at > OVERVIEW_CACHE_MS || t < cached.at) cached = { at: t, value: overview(e.snapshots(), e.store.summary(), e.rules, t) };
    return { body: cached.value };
  });

  api.route("GET", "/api/health/devices", ({ query }) => {
    onlyKeys(query, ["offset", "limit", "sort", "filter", "alerts"]);
    const byDevice = new Map<string, number>();
    for (const a of e.store.unresolved().values()) if (a.deviceId) byDevice.set(a.deviceId, (byDevice.get(a.deviceId) ?? 0) + 1);
    const filter = query.get("filter") ?? undefined;
    if (filter !== undefined && filter.length > 64) throw new HttpError(400, `query "filter" is at most 64 characters`);
    return {
      body: devicePage(e.snapshots(), byDevice, e.rules, now(), {
        offset: queryInt(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0),
        limit: queryInt(query, "limit", 1, 500, 50),
        sort: (oneOf(query, "sort", SORTS) ?? "id") as DeviceSort,
        filter,
        onlyAlerts: query.get("alerts") === "1",
      }),
    };
  });

  api.route("GET", "/api/alerts", ({ query }) => ({ body: e.store.list(alertQuery(query)) }));

  api.rawRoute("GET", "/api/alerts.csv", (_req, res, _params, query) => {
    const q = alertQuery(query);
    const { alerts } = e.store.list({ ...q, limit: q.limit === 100 && !query.has("limit") ? 1_000_000 : q.limit });
    const text = alertCsvHeader() + alerts.map(alertCsvRow).join("");
    res.writeHead(200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="alerts.csv"`, "cache-control": "no-store" });
    res.end(text);
  });

  api.route("POST", "/api/alerts/:id/acknowledge", ({ params, body }) => {
    const id = Number(params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new HttpError(400, `"${params.id}" is not an alert id`);
    const by = body && typeof body === "object" && typeof (body as { by?: unknown }).by === "string" ? (body as { by: string }).by.slice(0, 64) : "api";
    const a = e.acknowledge(id, by);
    if (!a) {
      const existing = e.store.get(id);
      if (!existing) throw new HttpError(404, `no alert ${id}`);
      throw new HttpError(409, `alert ${id} is ${existing.state}, only open alerts can be acknowledged`);
    }
    return { body: { alert: a } };
  });

  api.route("GET", "/api/actions", ({ query }) => {
    onlyKeys(query, ["limit", "offset"]);
    return { body: { ...p.outbox.stats(), deliveries: p.outbox.list(queryInt(query, "limit", 1, 1000, 100), queryInt(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0)) } };
  });

  // Remote diagnosis: in the device entry (GET /api/devices/ID, `diagnosis`, null before the
  // service has data from the device) and on its own for the dashboard's device page.
  const deviceDiagnosis = (id: string) => {
    const d = e.snapshot(id);
    if (!d) return undefined;
    const open = e.store.list({ deviceId: id, state: "unresolved" }).alerts;
    return { ...diagnosis(d, open, e.rules, now()), commissioning: p.commissioning.history(id, 10) };
  };
  p.service.deviceEntryParts.push((id) => ({ diagnosis: deviceDiagnosis(id) ?? null }));

  api.route("GET", "/api/devices/:id/diagnosis", ({ params }) => {
    const id = deviceId(params.id);
    const body = deviceDiagnosis(id);
    if (!body) throw new HttpError(404, `the service has no data from device "${id}"`);
    return { body };
  });

  api.route("POST", "/api/devices/:id/commission", async ({ params, body }) => {
    const id = deviceId(params.id);
    let waitMs = 0;
    if (body !== undefined) {
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "body must be a JSON object");
      for (const k of Object.keys(body)) if (k !== "wait") throw new HttpError(400, `unknown field "${k}" (allowed: wait)`);
      const w = (body as { wait?: unknown }).wait;
      if (w !== undefined) {
        const ms = parseServiceDuration(w);
        if (ms === undefined || ms > MAX_COMMISSION_WAIT_MS) throw new HttpError(400, `"wait" must be a duration like "90s" or "10m", at most 30m`);
        waitMs = ms;
      }
    }
    const result = await p.commissioning.run(id, waitMs);
    return { status: result.ok ? 200 : 422, body: result };
  });

  api.route("GET", "/api/devices/:id/commissioning", ({ params }) => ({ body: { results: p.commissioning.history(deviceId(params.id), 50) } }));

  api.rawRoute("GET", "/api/events", (req, res) => events(req, res, p));

  if (!dashboard) return;
  api.rawRoute("GET", "/", (_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(dashboardHtml());
  });
  api.rawRoute("GET", "/app.js", async (_req, res) => {
    const { js } = await webAssets("main.ts");
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
    res.end(js);
  });
  api.rawRoute("GET", "/app.css", async (_req, res) => {
    const { css } = await webAssets("main.ts");
    res.writeHead(200, { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" });
    res.end(css);
  });
}

/** Server-sent events: `alert` for every alert change, `fleet` at most every 2 s while telemetry arrives. */
function events(req: http.IncomingMessage, res: http.ServerResponse, p: ProactiveSupport): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
  res.write(": tether fleet events\n\n");
  let dirty = false;
  const offAlert = p.engine.onAlert((c) => res.write(`event: alert\ndata: ${JSON.stringify({ event: c.event, id: c.alert.id, rule: c.alert.rule, subject: c.alert.subject })}\n\n`));
  const offDevice = p.engine.onDevice(() => (dirty = true));
  // Real timers: the stream is for a browser watching in real time, even in a fast-forwarded demo.
  const tick = setInterval(() => {
    if (dirty) {
      dirty = false;
      res.write(`event: fleet\ndata: {}\n\n`);
    }
  }, FLEET_EVENT_MS);
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), SSE_KEEPALIVE_MS);
  const close = () => {
    offAlert();
    offDevice();
    clearInterval(tick);
    clearInterval(keepAlive);
  };
  req.on("close", close);
  res.on("error", close);
}

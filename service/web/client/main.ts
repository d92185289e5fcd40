/**
 * The fleet dashboard (served by `tether fleet serve --http`): a small hash-routed page over the
 * service's JSON API. Overview, alerts, rollouts, the device list (paginated on the server) and
 * one device's remote diagnosis. Live: a server-sent event stream tells the page when alerts or
 * the fleet changed, and the page re-reads what it shows (at most once a second).
 */
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { barChart, timeChart } from "./charts";
import type { DeviceRow, Diagnosis, Overview } from "./shapes";

const RULE_NAMES: Record<string, string> = { lowBattery: "Low battery", poorConnectivity: "Poor connectivity", offline: "Offline", cohort: "Cohort" };
const PAGE = 50;

const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T => root.querySelector(sel) as T;

function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16) + "Z";
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, { ...init, headers: { "content-type": "application/json", ...(init?.headers ?? {}) } });
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error ?? `${res.status}`);
  return body as T;
}

function card(key: string, label: string, value: number | string): string {
  return `<div class="card"><div class="num" data-k="${key}">${esc(value)}</div><div class="lbl">${esc(label)}</div></div>`;
}

// ---------------------------------------------------------------- pages
async function overviewPage(main: HTMLElement): Promise<void> {
  const o = await api<Overview>("/api/health/overview");
  main.innerHTML = `
    <section class="cards">
      ${card("devices", "devices", o.devices)}${card("online", "online", o.online)}${card("offline", "offline", o.offline)}
      ${card("alerts", "open alerts", o.alerts.open)}${card("battery7d", "batteries flat within 7 days", o.batteryRisk.within7d)}
    </section>
    <section class="grid">
      <div class="panel"><h2>Battery distribution (%)</h2><div id="battery-chart"></div>
        <p class="muted">${o.battery.unknown} without a battery report</p></div>
      <div class="panel"><h2>Firmware versions</h2><div id="version-chart"></div>
        <table id="versions"><tr><th>version</th><th>devices</th><th>online</th></tr>
        ${o.versions.map((v) => `<tr><td>${esc(v.version)}</td><td data-k="version-${esc(v.version)}">${v.devices}</td><td>${v.online}</td></tr>`).join("")}</table></div>
      <div class="panel"><h2>Open alerts by rule</h2><table id="by-rule">
        ${Object.entries(o.alerts.byRule).map(([r, n]) => `<tr><td><a href="#/alerts?rule=${r}">${esc(RULE_NAMES[r] ?? r)}</a></td><td data-k="rule-${r}">${n}</td></tr>`).join("")}</table></div>
      <div class="panel"><h2>Open alerts by cohort</h2>
        ${o.alerts.byCohort.length === 0 ? `<p class="muted" id="no-cohorts">no systemic problem detected</p>` : `<ul id="cohorts">${o.alerts.byCohort.map((c) => `<li data-k="cohort-${esc(c.subject)}"><b>${esc(c.subject)}</b> since ${when(c.openedAtMs)}<br>${esc(c.summary)}</li>`).join("")}</ul>`}
      </div>
    </section>`;
  barChart($("#battery-chart", main), o.battery.buckets, o.battery.devices, "devices");
  barChart($("#version-chart", main), o.versions.map((v) => v.version), o.versions.map((v) => v.devices), "devices");
}

interface AlertRow {
  id: number;
  rule: string;
  subject: string;
  deviceId: string | null;
  state: string;
  action: string;
  summary: string;
  dueByMs: number | null;
  openedAtMs: number;
}

async function alertsPage(main: HTMLElement, q: URLSearchParams): Promise<void> {
  const offset = Number(q.get("offset") ?? 0);
  const params = new URLSearchParams({ state: q.get("state") ?? "unresolved", limit: String(PAGE), offset: String(offset) });
  if (q.get("rule")) params.set("rule", q.get("rule")!);
  const r = await api<{ total: number; alerts: AlertRow[] }>(`/api/alerts?${params}`);
  main.innerHTML = `<h2>Alerts (${r.total}) <a class="small" href="/api/alerts.csv?${params}">CSV</a></h2>
    <table id="alerts"><tr><th>#</th><th>rule</th><th>subject</th><th>action</th><th>summary</th><th>due by</th><th>opened</th><th>state</th></tr>
    ${r.alerts
      .map(
        (a) => `<tr data-id="${a.id}"><td>${a.id}</td><td>${esc(RULE_NAMES[a.rule] ?? a.rule)}</td>
        <td>${a.deviceId ? `<a href="#/device/${encodeURIComponent(a.deviceId)}">${esc(a.subject)}</a>` : esc(a.subject)}</td>
        <td>${esc(a.action)}</td><td>${esc(a.summary)}</td><td>${when(a.dueByMs)}</td><td>${when(a.openedAtMs)}</td>
        <td>${a.state === "open" ? `<button data-ack="${a.id}">acknowledge</button>` : esc(a.state)}</td></tr>`,
      )
      .join("")}</table>${pager("#/alerts", q, offset, r.total)}`;
  for (const b of main.querySelectorAll<HTMLButtonElement>("button[data-ack]")) {
    b.onclick = async () => {
      await api(`/api/alerts/${b.dataset.ack}/acknowledge`, { method: "POST", body: JSON.stringify({ by: "dashboard" }) });
      void render();
    };
  }
}

function pager(base: string, q: URLSearchParams, offset: number, total: number): string {
  const link = (o: number) => {
    const p = new URLSearchParams(q);
    p.set("offset", String(o));
    return `${base}?${p}`;
  };
  const prev = offset > 0 ? `<a href="${link(Math.max(0, offset - PAGE))}">‹ previous</a>` : "";
  const next = offset + PAGE < total ? `<a href="${link(offset + PAGE)}">next ›</a>` : "";
  return `<p class="pager">${prev} <span data-k="page">${total === 0 ? 0 : offset + 1}–${Math.min(total, offset + PAGE)} of ${total}</span> ${next}</p>`;
}

async function devicesPage(main: HTMLElement, q: URLSearchParams): Promise<void> {
  const offset = Number(q.get("offset") ?? 0);
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset), sort: q.get("sort") ?? "id" });
  if (q.get("filter")) params.set("filter", q.get("filter")!);
  const r = await api<{ total: number; devices: DeviceRow[] }>(`/api/health/devices?${params}`);
  const sortLink = (s: string, label: string) => {
    const p = new URLSearchParams(q);
    p.set("sort", s);
    p.delete("offset");
    return `<a href="#/devices?${p}">${label}</a>`;
  };
  main.innerHTML = `<h2>Devices (${r.total})</h2>
    <form id="filter"><input name="filter" placeholder="filter by id, version or group" value="${esc(q.get("filter") ?? "")}"></form>
    <table id="devices"><tr><th>${sortLink("id", "device")}</th><th>firmware</th><th>group</th><th>${sortLink("lastSeen", "last seen")}</th>
      <th>${sortLink("battery", "battery")}</th><th>days to empty</th><th>${sortLink("rssi", "RSSI")}</th><th>${sortLink("alerts", "alerts")}</th></tr>
    ${r.devices
      .map(
        (d) => `<tr><td><span class="dot ${d.online ? "on" : "off"}"></span><a href="#/device/${encodeURIComponent(d.id)}">${esc(d.id)}</a></td>
      <td>${esc(d.firmware)}</td><td>${esc(d.group ?? "")}</td><td>${when(d.lastSeenMs)}</td><td>${d.batteryPct ?? "—"}${d.batteryPct === null ? "" : " %"}</td>
      <td>${d.daysToEmpty ?? "—"}</td><td>${d.rssiDbm ?? "—"}</td><td>${d.alerts || ""}</td></tr>`,
      )
      .join("")}</table>${pager("#/devices", q, offset, r.total)}`;
  $<HTMLFormElement>("#filter", main).onsubmit = (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams(q);
    p.set("filter", (new FormData(ev.target as HTMLFormElement).get("filter") as string) ?? "");
    p.delete("offset");
    location.hash = `#/devices?${p}`;
  };
}

/** The diagnosis as the route sends it: open alerts as JSON rows, and the installer confirmations. */
type DeviceDiagnosis = Diagnosis<AlertRow> & { commissioning: { ok: boolean; atMs: number; reasons: string[] }[] };

async function devicePage(main: HTMLElement, id: string): Promise<void> {
  const d = await api<DeviceDiagnosis>(`/api/devices/${encodeURIComponent(id)}/diagnosis`);
  const b = d.battery;
  main.innerHTML = `<h2><span class="dot ${d.online ? "on" : "off"}"></span>${esc(d.id)}</h2>
    <section class="cards">
      ${card("firmware", "firmware", d.firmware)}${card("battery", "battery %", b ? b.pct : "—")}
      ${card("empty", "predicted empty", b?.predictedEmptyMs ? when(b.predictedEmptyMs).slice(0, 10) : "—")}
      ${card("reports", "reports", d.reports)}${card("device-alerts", "open alerts", d.openAlerts.length)}
    </section>
    <p class="muted">group ${esc(d.group ?? "—")} · hardware ${esc(d.hardware ?? "—")} · last seen ${when(d.lastSeenMs)} · reports every ${d.reportIntervalMs === null ? "—" : `${Math.round(d.reportIntervalMs / 1000)} s`}
      ${b ? ` · ${b.mv} mV, drain ${b.dropPctPerHour ?? "—"} %/h` : ""}</p>
    <section class="grid">
      <div class="panel"><h2>Open alerts</h2>${d.openAlerts.length === 0 ? `<p class="muted">none</p>` : `<ul id="device-alerts">${d.openAlerts.map((a) => `<li><b>${esc(a.action)}</b>: ${esc(a.summary)}</li>`).join("")}</ul>`}</div>
      <div class="panel"><h2>Battery (%)</h2><div id="battery-curve"></div></div>
      <div class="panel"><h2>RSSI (median dBm per hour)</h2><div id="rssi-chart"></div></div>
      <div class="panel"><h2>Reconnects and gaps per hour</h2><div id="reconnect-chart"></div></div>
      <div class="panel"><h2>Recent resets</h2><table id="resets">${d.resets.map((r) => `<tr><td>${when(r.atMs)}</td><td>${esc(r.reason)}</td></tr>`).join("")}</table></div>
      <div class="panel"><h2>OTA history</h2><table id="ota"><tr><th>when</th><th>version</th><th>state</th><th>result</th></tr>${d.ota.map((o) => `<tr><td>${when(o.atMs)}</td><td>${o.version ?? ""}</td><td>${o.state}</td><td>${o.result}</td></tr>`).join("")}</table></div>
      <div class="panel"><h2>Installer confirmation</h2><button id="commission">check now</button>
        <ul id="commissioning">${d.commissioning.map((c) => `<li class="${c.ok ? "ok" : "bad"}">${when(c.atMs)}: ${c.ok ? "confirmed" : esc(c.reasons.join("; "))}</li>`).join("")}</ul></div>
    </section>`;
  // The measured curve, then a straight line from the latest reading to the predicted empty date.
  const xs = [...d.hourly.hourMs];
  const measured: (number | null)[] = [...d.hourly.batteryPct];
  const predicted: (number | null)[] = measured.map(() => null);
  if (b?.predictedEmptyMs && xs.length > 0) {
    predicted[predicted.length - 1] = b.pct;
    xs.push(b.predictedEmptyMs);
    measured.push(null);
    predicted.push(0);
  }
  timeChart($("#battery-curve", main), xs, [
    { label: "battery %", values: measured },
    { label: "predicted", values: predicted },
  ]);
  timeChart($("#rssi-chart", main), d.hourly.hourMs, [{ label: "RSSI dBm", values: d.hourly.rssiMedian }]);
  timeChart($("#reconnect-chart", main), d.hourly.hourMs, [
    { label: "reconnects", values: d.hourly.reconnects },
    { label: "gaps", values: d.hourly.gaps },
  ]);
  $("#commission", main).onclick = async () => {
    await api(`/api/devices/${encodeURIComponent(id)}/commission`, { method: "POST", body: "{}" }).catch(() => undefined);
    void render();
  };
}

interface RolloutStatus {
  id: string;
  status: string;
  version: number;
  target: string;
  wave: number;
  halt: { rule: string; detail: unknown } | null;
  counts: { total: number; executed: number; failures: number; succeeded: number; byState: Record<string, number> };
  waves: { wave: number; name: string; devices: number; byState: Record<string, number> }[];
  health: unknown;
}

/** 1003000 → "1.3.0" (MAJOR·10⁶ + MINOR·10³ + PATCH). */
function version(n: number): string {
  return `${Math.floor(n / 1e6)}.${Math.floor(n / 1e3) % 1e3}.${n % 1e3}`;
}

async function rolloutsPage(main: HTMLElement): Promise<void> {
  const { rollouts } = await api<{ rollouts: { id: string }[] }>("/api/rollouts");
  const details = await Promise.all(rollouts.slice(-20).reverse().map((r) => api<RolloutStatus>(`/api/rollouts/${encodeURIComponent(r.id)}`)));
  main.innerHTML = `<h2>Rollouts (${rollouts.length})</h2><div id="rollouts">${details.map(rolloutPanel).join("") || `<p class="muted">no rollout yet</p>`}</div>`;
}

function rolloutPanel(r: RolloutStatus): string {
  const c = r.counts;
  const states = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${esc(k)} ${v}`).join(" · ");
  return `<div class="panel rollout" data-rollout="${esc(r.id)}"><h3>${esc(r.id)}: ${esc(version(r.version))} <span class="state" data-k="rollout-${esc(r.id)}-status">${esc(r.status)}</span></h3>
    <p>target <code>${esc(r.target)}</code> · ${c.total} devices · executed ${c.executed} · succeeded ${c.succeeded} · failures ${c.failures}</p>
    <table class="waves"><tr><th>wave</th><th>devices</th><th>states</th></tr>
    ${r.waves.map((w) => `<tr class="${w.wave === r.wave ? "current" : ""}"><td>${esc(w.name)}</td><td>${w.devices}</td><td>${states(w.byState)}</td></tr>`).join("")}</table>
    ${r.halt ? `<div class="halt"><b>halted by ${esc(r.halt.rule)}</b><pre>${esc(JSON.stringify(r.halt.detail, null, 2))}</pre></div>` : ""}
    ${r.health ? `<details><summary>health comparison: new version vs old</summary><pre>${esc(JSON.stringify(r.health, null, 2))}</pre></details>` : ""}</div>`;
}

// ---------------------------------------------------------------- router and live updates
let rendering: Promise<void> | undefined;
let again = false;

async function render(): Promise<void> {
  if (rendering) {
    again = true;
    return rendering;
  }
  const main = $("#main");
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const q = new URLSearchParams(query);
  const section = path.startsWith("/device/") ? "/devices" : path || "/";
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) a.classList.toggle("active", a.getAttribute("href") === `#${section}`);
  rendering = (async () => {
    try {
      if (path.startsWith("/device/")) await devicePage(main, decodeURIComponent(path.slice("/device/".length)));
      else if (path === "/devices") await devicesPage(main, q);
      else if (path === "/alerts") await alertsPage(main, q);
      else if (path === "/rollouts") await rolloutsPage(main);
      else await overviewPage(main);
      document.body.dataset.rendered = String(Date.now());
    } catch (err) {
      main.innerHTML = `<p class="error">${esc((err as Error).message)}</p>`;
    }
  })();
  await rendering;
  rendering = undefined;
  if (again) {
    again = false;
    void render();
  }
}

let lastLive = 0;
let liveTimer: ReturnType<typeof setTimeout> | undefined;
function live(): void {
  // At most one refresh a second, however many events arrive.
  if (liveTimer) return;
  const wait = Math.max(0, 1000 - (Date.now() - lastLive));
  liveTimer = setTimeout(() => {
    liveTimer = undefined;
    lastLive = Date.now();
    if (document.querySelector("input:focus")) return;
    void render();
  }, wait);
}

window.addEventListener("hashchange", () => void render());
const events = new EventSource("/api/events");
events.addEventListener("alert", live);
events.addEventListener("fleet", live);
events.addEventListener("open", () => ($("#live").textContent = "live"));
events.addEventListener("error", () => ($("#live").textContent = "reconnecting…"));
void render();

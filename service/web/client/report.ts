/**
 * `tether sim --report FILE.html`: the self-contained report of one simulation run. The data is
 * a JSON block in the page; the charts are the dashboard's (charts.ts, uPlot), inlined.
 */
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { barChart, timeChart } from "./charts";
import type { DetectionScore, RolloutOutcome, ServiceRunFigures } from "./shapes";

/** The page's data block: a run's fleet figures (a narrower view of host-sim's FleetSummary) and the service's side. */
interface ReportData extends ServiceRunFigures {
  title: string;
  replay: string;
  devices: number;
  simulatedDays: number;
  wallSeconds: number;
  summary: {
    telemetry: { published: number; delivered: number; lost: number; duplicates: number };
    reconnects: number;
    peakReconnectsPerSecond: number;
    ota: Record<string, number>;
    battery: { dead: number };
    checks: { name: string; ok: boolean; detail: string }[];
  };
}

const esc = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function scoreRow(name: string, s: DetectionScore, lead?: number | null): string {
  return `<tr><td>${esc(name)}</td><td data-k="${name}-precision">${pct(s.precision)}</td><td data-k="${name}-recall">${pct(s.recall)}</td>
    <td>${s.truePositives}</td><td>${s.falsePositives}</td><td>${s.falseNegatives}</td><td>${lead === undefined ? "" : lead === null ? "—" : `${lead.toFixed(1)} d`}</td></tr>`;
}

const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)} h`;

/** A halt's numbers, one level flattened: "failures 6 · executed 6 · newVersion.devices 10 …". */
function numbers(detail: Record<string, unknown>, prefix = ""): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(detail)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && prefix === "") out.push(...numbers(v as Record<string, unknown>, `${k}.`));
    else out.push(`${prefix}${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  }
  return out;
}

function rolloutRows(rs: RolloutOutcome[]): string {
  if (rs.length === 0) return `<p class="muted">The scenario has no <code>rollouts</code>.</p>`;
  const row = (r: RolloutOutcome, i: number) => {
    const halt = r.haltRule
      ? `<b data-k="rollout-${i}-halt">${esc(r.haltRule)}</b> after ${hours(r.haltAfterMs ?? 0)}: <span class="muted">${esc(numbers(r.haltDetail ?? {}).join(" · "))}</span>`
      : "—";
    return `<tr><td>${esc(r.id ?? "—")}</td><td>${esc(r.bundle)}</td><td>${hours(r.createdAtMs)}</td><td data-k="rollout-${i}-status">${esc(r.error ?? r.status)}</td>
      <td>${r.offered ?? 0}</td><td>${r.devicesRan ?? 0}</td><td>${esc(Object.entries(r.counts?.byState ?? {}).map(([k, v]) => `${k} ${v}`).join(" · "))}</td><td>${halt}</td></tr>`;
  };
  return `<table id="rollouts"><tr><th>rollout</th><th>bundle</th><th>created</th><th>outcome</th><th>offered to</th><th>devices that ran it</th><th>devices by state</th><th>halt: rule, when, numbers</th></tr>${rs.map(row).join("")}</table>`;
}

function render(d: ReportData): void {
  const s = d.summary;
  const buckets = ["0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90-100"];
  const hist = new Array<number>(10).fill(0);
  for (const p of d.batteryPct) hist[Math.min(9, Math.floor(p / 10))]++;
  const ota = ["offered", "updated", "rolledBack", "deferred", "failed", "bricked"];
  document.title = d.title;
  document.body.innerHTML = `<header><h1>${esc(d.title)}</h1></header><main>
    <p class="muted">${d.devices} devices · ${d.simulatedDays.toFixed(1)} simulated days · ${d.wallSeconds.toFixed(1)} s wall · replay: <code>${esc(d.replay)}</code></p>
    <section class="cards">
      <div class="card"><div class="num" data-k="delivered">${s.telemetry.delivered}</div><div class="lbl">telemetry delivered (of ${s.telemetry.published})</div></div>
      <div class="card"><div class="num">${s.telemetry.lost}</div><div class="lbl">lost</div></div>
      <div class="card"><div class="num">${s.reconnects}</div><div class="lbl">reconnects (peak ${s.peakReconnectsPerSecond}/s)</div></div>
      <div class="card"><div class="num">${s.battery.dead}</div><div class="lbl">batteries flat</div></div>
    </section>
    <section class="grid">
      <div class="panel"><h2>Telemetry delivered per hour, devices online</h2><div id="telemetry"></div></div>
      <div class="panel"><h2>Reconnects per hour</h2><div id="reconnects"></div></div>
      <div class="panel"><h2>Battery distribution at the end (%)</h2><div id="battery"></div></div>
      <div class="panel"><h2>OTA outcomes of the scenario's <code>ota</code> offers (rollouts: below)</h2><div id="ota"></div></div>
      <div class="panel"><h2>Rollout progress: devices running each version</h2><div id="versions"></div></div>
      <div class="panel"><h2>Open alerts</h2><div id="alerts-open"></div></div>
    </section>
    <section class="panel"><h2>Rollouts run by the fleet service</h2>${rolloutRows(d.rollouts ?? [])}</section>
    <section class="panel"><h2>Alerts against the simulated truth</h2>
      <table id="truth"><tr><th>action</th><th>precision</th><th>recall</th><th>right</th><th>false alarms</th><th>missed</th><th>median lead time</th></tr>
      ${scoreRow("replace battery", d.replaceBattery, d.replaceBattery.medianLeadDays)}${scoreRow("dispatch repeater", d.dispatchRepeater)}</table>
      <h3>Cohort alerts</h3><ul>${d.cohorts.map((c) => `<li>${esc(c.subject)} after ${c.openedAfterHours.toFixed(1)} h</li>`).join("") || "<li>none</li>"}</ul>
      <h3>Alerts by rule</h3><p>${Object.entries(d.alertsByRule).map(([k, v]) => `${esc(k)} ${v}`).join(" · ") || "none"}</p></section>
    <section class="panel"><h2>Checks</h2><ul>${s.checks.map((c) => `<li class="${c.ok ? "ok" : "bad"}">${c.ok ? "ok" : "FAIL"} ${esc(c.name)}: ${esc(c.detail)}</li>`).join("")}</ul></section>
    <section class="panel"><h2>Alert log (first ${d.alerts.length})</h2><table>${d.alerts
      .slice(0, 300)
      .map((a) => `<tr><td>${new Date(a.atMs).toISOString().slice(0, 16)}</td><td>${esc(a.event)}</td><td>${esc(a.rule)}</td><td>${esc(a.subject)}</td><td>${esc(a.summary)}</td></tr>`)
      .join("")}</table></section></main>`;
  const q = (id: string) => document.getElementById(id)!;
  timeChart(q("telemetry"), d.series.hourMs, [
    { label: "delivered", values: d.series.delivered },
    { label: "online", values: d.series.online, scale: "online" },
  ]);
  timeChart(q("reconnects"), d.series.hourMs, [{ label: "reconnects", values: d.series.reconnects }]);
  barChart(q("battery"), buckets, hist, "devices");
  barChart(q("ota"), ota, ota.map((k) => s.ota[k] ?? 0), "devices");
  timeChart(q("versions"), d.series.hourMs, Object.entries(d.series.versions).map(([v, xs]) => ({ label: v, values: xs })));
  timeChart(q("alerts-open"), d.series.hourMs, [{ label: "open alerts", values: d.series.openAlerts }]);
  document.body.dataset.rendered = "1";
}

render(JSON.parse(document.getElementById("report-data")!.textContent!) as ReportData);

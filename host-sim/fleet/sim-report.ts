/**
 * `tether sim --report FILE.html`: runs the fleet with the service's health rules watching
 * (health-truth.ts) and writes one self-contained HTML file: the dashboard's chart code and
 * styles inlined, the run's data as a JSON block. Opens offline, from disk, in any browser.
 */
import { nodeSha256 } from "../../device/platform/node/sha256";
import { webAssets } from "../../service/web/assets";
import { runHealthTruth, type TruthReport } from "./health-truth";
import { buildFirmwareLibrary, firmwareRequests } from "./images";
import type { Scenario } from "./scenario";

export interface SimReportOptions {
  devices: number;
  durationMs: number;
  seed: number;
  scenario: Scenario;
  replay: string;
}

export async function simulateForReport(o: SimReportOptions): Promise<{ report: TruthReport; wallSeconds: number }> {
  const library = await buildFirmwareLibrary(firmwareRequests(o.scenario), nodeSha256);
  const t0 = performance.now();
  const report = runHealthTruth({ devices: o.devices, durationMs: o.durationMs, seed: o.seed, scenario: o.scenario, library, sha256: nodeSha256 });
  return { report, wallSeconds: (performance.now() - t0) / 1000 };
}

/** JSON inside <script>: no "</script>" or "<!--" can end or change the block. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, "\\u003c");
}

export async function reportHtml(r: TruthReport, wallSeconds: number, o: SimReportOptions): Promise<string> {
  const { js, css } = await webAssets("report.ts");
  const data = { ...r, title: `Tether simulation: ${o.devices} devices, seed ${o.seed}`, replay: o.replay, wallSeconds };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${data.title}</title><style>${css}</style></head>
<body><p>loading…</p>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${js.replace(/<\/script/gi, "<\\/script")}</script></body></html>
`;
}

/**
 * The dashboard in a real headless Chromium (Debian's, driven by puppeteer-core): the pages must
 * show the numbers the API returns, update live over server-sent events, and page through the
 * device list. Screenshots go to reports/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { parseRules } from "../../service/health/config";
import { ProactiveSupport } from "../../service/health/module";
import { batch } from "./helpers";
import { CHROMIUM, CHROMIUM_FLAGS, NullTransport } from "./chromium";



const N = 300;
let service: FleetService;
let p: ProactiveSupport;
let url: string;
let browser: Browser;
let page: Page;
let dir: string;

async function text(sel: string): Promise<string> {
  await page.waitForSelector(sel, { timeout: 15_000 });
  return page.$eval(sel, (el) => (el.textContent ?? "").trim());
}

async function api<T>(path: string): Promise<T> {
  return (await (await fetch(url + path)).json()) as T;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/ensure-debian-packages.sh (Debian package chromium)`);
  dir = mkdtempSync(join(tmpdir(), "tether-dashboard-"));
  service = new FleetService({ db: `${dir}/fleet.db`, clock: realClock, transport: new NullTransport() });
  p = new ProactiveSupport(service, parseRules({}));
  await service.use(p);
  await service.start();
  // A fleet: three versions, batteries all over, a few predicted flat within a week, some silent.
  for (let i = 0; i < N; i++) {
    const id = `dev-${String(i).padStart(4, "0")}`;
    p.engine.telemetry(batch(id, { seq: 1, firmware: i % 3 === 0 ? "1.3.0" : i % 3 === 1 ? "1.2.0" : "1.1.0", pct: (i * 37) % 101, tteMin: i % 25 === 0 ? 3 * 1440 : 40 * 1440, rssi: -50 - (i % 40) }));
  }
  p.evaluate();
  const at = await service.listen({ host: "127.0.0.1", port: 0 });
  url = at.url;
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS, `--user-data-dir=${dir}/chromium`], headless: true });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  if (!existsSync("reports")) mkdirSync("reports");
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await service?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("dashboard in Chromium", () => {
  it("overview shows the API's numbers and draws the charts", async () => {
    await page.goto(`${url}/#/`, { waitUntil: "domcontentloaded" });
    const o = await api<{ devices: number; online: number; alerts: { open: number; byRule: Record<string, number> }; battery: { devices: number[] }; versions: { version: string; devices: number }[] }>("/api/health/overview");
    expect(o.devices).toBe(N);
    expect(await text('[data-k="devices"]')).toBe(String(o.devices));
    expect(await text('[data-k="online"]')).toBe(String(o.online));
    expect(await text('[data-k="alerts"]')).toBe(String(o.alerts.open));
    expect(await text('[data-k="rule-lowBattery"]')).toBe(String(o.alerts.byRule.lowBattery));
    expect(o.alerts.byRule.lowBattery).toBe(12);
    for (const v of o.versions) expect(await text(`[data-k="version-${v.version}"]`)).toBe(String(v.devices));
    const drawn = await page.$eval("#battery-chart", (el) => ({ values: el.getAttribute("data-values"), canvas: !!el.querySelector("canvas") }));
    expect(JSON.parse(drawn.values!)).toEqual(o.battery.devices);
    expect(drawn.canvas).toBe(true);
    await page.screenshot({ path: "reports/dashboard-overview.png", fullPage: true });
  });

  it("updates live when an alert opens (server-sent events), without a reload", async () => {
    await page.goto(`${url}/#/`, { waitUntil: "domcontentloaded" });
    // Functions given as strings run in the page (this file is type-checked without the DOM library).
    await page.waitForFunction(`document.querySelector("#live")?.textContent === "live"`, { timeout: 10_000 });
    const before = Number(await text('[data-k="alerts"]'));
    await page.evaluate("window.marker = 42");
    p.engine.telemetry(batch("dev-0001", { seq: 2, tteMin: 1440 }));
    p.evaluate();
    await page.waitForFunction(`document.querySelector('[data-k="alerts"]')?.textContent === "${before + 1}"`, { timeout: 10_000 });
    expect(await page.evaluate("window.marker")).toBe(42); // the same page: updated, not reloaded
  });

  it("device list pages on the server; the device page shows the diagnosis", async () => {
    await page.goto(`${url}/#/devices?sort=battery`, { waitUntil: "domcontentloaded" });
    expect(await text('[data-k="page"]')).toBe(`1–50 of ${N}`);
    const first = await api<{ devices: { id: string; batteryPct: number }[] }>("/api/health/devices?sort=battery&limit=1");
    expect(await page.$eval("#devices tr:nth-child(2) td a", (a) => a.textContent)).toBe(first.devices[0].id);
    await page.goto(`${url}/#/device/dev-0025`, { waitUntil: "domcontentloaded" });
    const d = await api<{ battery: { pct: number; predictedEmptyMs: number }; openAlerts: unknown[] }>("/api/devices/dev-0025/diagnosis");
    expect(await text('[data-k="battery"]')).toBe(String(d.battery.pct));
    expect(await text('[data-k="empty"]')).toBe(new Date(d.battery.predictedEmptyMs).toISOString().slice(0, 10));
    expect(await text('[data-k="device-alerts"]')).toBe(String(d.openAlerts.length));
    expect(d.openAlerts.length).toBe(1);
    await page.screenshot({ path: "reports/dashboard-device.png", fullPage: true });
  });

  it("acknowledges an alert from the alerts page", async () => {
    await page.goto(`${url}/#/alerts?rule=lowBattery`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector("button[data-ack]");
    const id = await page.$eval("button[data-ack]", (b) => b.getAttribute("data-ack"));
    // Clicked from inside the page: a live re-render may have replaced the button since it was found.
    await page.evaluate(`document.querySelector('button[data-ack="${id}"]').click()`);
    await page.waitForFunction(`document.querySelector('tr[data-id="${id}"] td:last-child')?.textContent === "acknowledged"`, { timeout: 10_000 });
    const a = await api<{ alerts: { id: number; state: string; acknowledgedBy: string }[] }>(`/api/alerts?rule=lowBattery&state=acknowledged`);
    expect(a.alerts.map((x) => [x.id, x.acknowledgedBy])).toEqual([[Number(id), "dashboard"]]);
  });
});

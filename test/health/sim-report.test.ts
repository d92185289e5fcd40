/**
 * `tether sim --report` on a scenario with `rollouts` (scenarios/rollout-bad-small.json, cut to
 * 150 devices and 10 h): one run, one report with both what the fleet service's rollouts did
 * (1.3.0 halted by its canary, with the rule and the numbers behind the halt; 1.3.1 completed)
 * and its health alerts against the simulated truth (the away group, powered off for 8.5 h, is
 * exactly the set of devices alerted offline, each resolved on return). The report is rendered
 * in Debian's Chromium and must show the same figures as its data.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupOfScenario, parseScenario } from "../../host-sim/fleet/scenario";
import { buildCli, removeCli } from "../helpers/cli";
import { CHROMIUM, CHROMIUM_FLAGS } from "./chromium";

const FILE = "scenarios/rollout-bad-small.json";
const DEVICES = 150;
const ARGS = ["--scenario", FILE, "--devices", String(DEVICES), "--duration", "10h", "--quiet"];

interface Rollout {
  id?: string;
  bundle: string;
  status: string;
  haltRule?: string;
  haltDetail?: { failures: number; executed: number; failurePct: number; maxFailurePct: number; minExecuted: number };
  haltAfterMs?: number;
  offered?: number;
  devicesRan?: number;
  counts?: { byState: Record<string, number> };
}
interface ReportData {
  rollouts: Rollout[];
  alerts: { atMs: number; event: string; rule: string; subject: string }[];
  replaceBattery: { precision: number; recall: number };
  series: { versions: Record<string, number[]> };
}

let cli = "";
let dir = "";
let out = "";
let code: number | null = null;
let data: ReportData;
const html = () => join(dir, "report.html");

beforeAll(async () => {
  cli = await buildCli("sim-report");
  dir = mkdtempSync(join(tmpdir(), "tether-sim-report-"));
  const r = spawnSync(process.execPath, [cli, "sim", ...ARGS, "--report", html()], { encoding: "utf8", timeout: 420_000 }); // 50–140 s on a loaded 2-core machine
  code = r.status;
  out = `${r.stdout}\n${r.stderr}`;
  const m = /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(readFileSync(html(), "utf8"));
  data = JSON.parse(m![1]) as ReportData;
}, 480_000);

afterAll(() => {
  removeCli(cli);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`tether sim ${ARGS.join(" ")} --report`, () => {
  it("runs the scenario's rollouts in the service: the bad one halted by its canary with its numbers, the fix completed", () => {
    expect(code, out).toBe(0);
    const [bad, fix] = data.rollouts;
    expect(bad.bundle).toBe("sim:1.3.0");
    expect(bad.haltRule, out).toBe("failure-rate");
    const h = bad.haltDetail!;
    expect(h.executed).toBeGreaterThanOrEqual(h.minExecuted);
    expect(h.failures * 100).toBeGreaterThan(h.maxFailurePct * h.executed);
    expect(bad.devicesRan!).toBeLessThanOrEqual(6); // the canary, nobody else
    expect(fix.bundle).toBe("sim:1.3.1");
    expect(fix.status, out).toBe("completed");
    expect(fix.counts!.byState.succeeded).toBe(DEVICES);
    // The version chart shows the fix reaching every device.
    expect(data.series.versions["1.3.1"].at(-1)).toBe(DEVICES);
    // The terminal says the same.
    expect(out).toMatch(/rollout r0001 sim:1\.3\.0: \w+, halted by failure-rate/);
    expect(out).toMatch(/rollout r0002 sim:1\.3\.1: completed/);
  });

  it("in the same run, the offline alerts are exactly the devices the scenario powered off, each resolved on return", () => {
    const scenario = parseScenario(readFileSync(FILE, "utf8"), FILE);
    const groupOf = groupOfScenario(scenario.groups, DEVICES);
    const away = new Set<string>();
    for (let i = 0; i < DEVICES; i++) if (groupOf(i).name === "away") away.add(`dev-${String(i).padStart(6, "0")}`);
    expect(away.size).toBeGreaterThan(5);
    const offline = (event: string) => new Set(data.alerts.filter((a) => a.rule === "offline" && a.event === event).map((a) => a.subject));
    expect([...offline("opened")].sort()).toEqual([...away].sort());
    expect([...offline("resolved")].sort()).toEqual([...away].sort());
  });

  it("renders in Chromium with the data's figures", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/ensure-debian-packages.sh (Debian package chromium)`);
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS, `--user-data-dir=${dir}/chromium`], headless: true });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(pathToFileURL(html()).href, { waitUntil: "load" });
      await page.waitForSelector("body[data-rendered]", { timeout: 15_000 });
      const text = (sel: string) => page.$eval(sel, (el) => (el.textContent ?? "").trim());
      expect(await text('[data-k="rollout-0-halt"]')).toBe("failure-rate");
      expect(await text('[data-k="rollout-1-status"]')).toBe("completed");
      expect(await page.$eval("#rollouts", (el) => el.textContent)).toContain(`failures ${data.rollouts[0].haltDetail!.failures} · executed ${data.rollouts[0].haltDetail!.executed}`);
      expect(await text('[data-k="replace battery-precision"]')).toBe(`${(data.replaceBattery.precision * 100).toFixed(1)} %`);
      if (!existsSync("reports")) mkdirSync("reports");
      await page.screenshot({ path: "reports/sim-report.png", fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});

/**
 * `tether story` (npm start) as a real process: it prints its first lines at once, serves the
 * dashboard, narrates the battery, radio and release events, and Ctrl-C leaves no process and
 * no file behind (its temporary directory lives under a private TMPDIR here, checked empty).
 * Once the fix completed, the dashboard's Rollouts page (in Debian's Chromium) shows the two
 * releases as the API has them: waves, states, and the rule behind the bad release's halt.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildCli, removeCli, runCli } from "../helpers/cli";
import { CHROMIUM, CHROMIUM_FLAGS } from "./chromium";

interface RolloutStatus {
  id: string;
  status: string;
  halt: { rule: string } | null;
  counts: { executed: number; failures: number; succeeded: number };
  waves: { name: string; devices: number }[];
}

/** The Rollouts page in Chromium against GET /api/rollouts/ID for each rollout. */
async function checkRolloutsPage(url: string, dir: string): Promise<void> {
  const { rollouts } = (await (await fetch(`${url}api/rollouts`)).json()) as { rollouts: { id: string }[] };
  const status = await Promise.all(rollouts.map(async (r) => (await (await fetch(`${url}api/rollouts/${r.id}`)).json()) as RolloutStatus));
  expect(status.map((r) => r.status)).toEqual(["cancelled", "completed"]);
  expect(status[0].halt?.rule).toBe("failure-rate");
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS, `--user-data-dir=${dir}/chromium`], headless: true });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${url}#/rollouts`, { waitUntil: "domcontentloaded" });
    for (const r of status) {
      const panel = `[data-rollout="${r.id}"]`;
      await page.waitForSelector(`${panel} [data-k="rollout-${r.id}-status"]`, { timeout: 15_000 });
      expect(await page.$eval(`${panel} [data-k="rollout-${r.id}-status"]`, (el) => el.textContent)).toBe(r.status);
      const text = await page.$eval(panel, (el) => el.textContent ?? "");
      expect(text).toContain(`executed ${r.counts.executed} · succeeded ${r.counts.succeeded} · failures ${r.counts.failures}`);
      expect(await page.$$eval(`${panel} table.waves tr`, (rows) => rows.length - 1)).toBe(r.waves.length);
      if (r.halt) expect(text).toContain(`halted by ${r.halt.rule}`);
      else expect(text).not.toContain("halted by");
    }
    mkdirSync("reports", { recursive: true });
    await page.screenshot({ path: "reports/dashboard-rollouts.png", fullPage: true });
  } finally {
    await browser.close();
  }
}

let runner: string;
beforeAll(async () => {
  runner = await buildCli("story");
}, 120_000);
afterAll(() => removeCli(runner));

it("tells the story fast-forwarded, serves the dashboard, and cleans up on Ctrl-C", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "tether-story-test-"));
  try {
    const started = Date.now();
    const story = runCli(runner, ["story", "--speed", "20000", "--port", "0"], { env: { ...process.env, TMPDIR: tmp } });
    await story.waitFor(/^tether: 200 virtual devices/, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    const dash = await story.waitFor(/^tether: dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/, 90_000);
    const url = /(http:\/\/\S+\/)/.exec(dash)![1];
    await story.waitFor(/replace battery by \d{4}-\d\d-\d\d \(\d+\.\d days to spare\)$/, 60_000);
    await story.waitFor(/dispatch repeater$/, 60_000);
    await story.waitFor(/rollout r0001 \(1\.1\.0\) HALTED by its canary/, 60_000);
    const overview = (await (await fetch(`${url}api/health/overview`)).json()) as { devices: number };
    expect(overview.devices).toBe(200);
    expect(readdirSync(tmp)).toHaveLength(1); // the story's bundle directory
    // Both releases settled (no more come): what the Rollouts page shows no longer changes.
    await story.waitFor(/rollout r0002 \(1\.1\.1\) completed/, 180_000);
    const chromiumDir = mkdtempSync(join(tmpdir(), "tether-story-chromium-"));
    try {
      await checkRolloutsPage(url, chromiumDir);
    } finally {
      rmSync(chromiumDir, { recursive: true, force: true });
    }
    expect(await story.stop()).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    expect(story.stderr()).toBe("");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 360_000);

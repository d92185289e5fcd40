/**
 * `tether story` (npm start) as a real process: it prints its first lines at once, serves the
 * dashboard, narrates the battery, radio and release events, and Ctrl-C leaves no process and
 * no file behind (its temporary directory lives under a private TMPDIR here, checked empty).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildCli, removeCli, runCli } from "../helpers/cli";

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
    expect(await story.stop()).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    expect(story.stderr()).toBe("");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 240_000);

/**
 * The dashboard's page load time in headless Chromium (Debian's, through puppeteer-core) with
 * 10,000 devices, beside the same pages with 1,000 devices (interleaved), 1 warm-up + 5 rounds:
 * from navigation to the page's data rendered, for the overview, a device list page and a device.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import type { TelemetryBatch } from "../device/core/telemetry/record";
import { realClock } from "../service/clock";
import { FleetService } from "../service/fleet-service";
import { parseRules } from "../service/health/config";
import { ProactiveSupport } from "../service/health/module";
import { CHROMIUM, CHROMIUM_FLAGS, NullTransport } from "../test/health/chromium";

const ROUNDS = 5;


/** A service holding `n` devices with a day of hourly history each. */
async function fleetService(n: number, dir: string) {
  const service = new FleetService({ db: join(dir, `fleet-${n}.db`), clock: realClock, transport: new NullTransport() });
  const p = new ProactiveSupport(service, parseRules({}));
  await service.use(p);
  await service.start();
  const now = Date.now();
  const HOUR = 3_600_000;
  // Feed 24 hourly batches per device at their receive times.
  const clock = service.clock as { now: () => number };
  const realNow = clock.now;
  for (let h = 24; h >= 1; h--) {
    clock.now = () => now - h * HOUR;
    for (let i = 0; i < n; i++) {
      const b: TelemetryBatch = {
        deviceId: `dev-${String(i).padStart(6, "0")}`,
        seq: 25 - h,
        firmware: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"][i % 4],
        slot: 0,
        resetReason: "power-on",
        timeBase: "uptime",
        madeAtMs: (25 - h) * HOUR,
        uptimeMs: (25 - h) * HOUR,
        link: { state: "online", reconnects: i % 50 === 0 ? 25 - h : 0 },
        battery: { mv: 3900, pct: 100 - ((i * 7) % 100), status: 0, alarm: "none", dropBpPerHour: 10, timeToEmptyMin: 1440 * (1 + (i % 60)) },
        samples: [{ tMs: 0, rssiDbm: i % 50 === 0 ? -93 : -55 - (i % 25) }],
      };
      p.engine.telemetry(b);
    }
  }
  clock.now = realNow;
  p.evaluate();
  const at = await service.listen({ host: "127.0.0.1", port: 0 });
  return { service, url: at.url };
}

async function pageLoad() {
  const dir = mkdtempSync(join(tmpdir(), "tether-bench-dash-"));
  const fleets = { "10000": await fleetService(10_000, dir), "1000": await fleetService(1000, dir) };
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS, `--user-data-dir=${join(dir, "chromium")}`], headless: true });
  const pages = { overview: "#/", devices: "#/devices?sort=battery", device: "#/device/dev-000050" };
  const samples: Record<string, Record<string, number[]>> = { "10000": {}, "1000": {} };
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [n, f] of Object.entries(fleets)) {
        for (const [name, hash] of Object.entries(pages)) {
          const page = await browser.newPage();
          const t0 = performance.now();
          await page.goto(`${f.url}/${hash}`, { waitUntil: "domcontentloaded" });
          await page.waitForSelector("body[data-rendered]", { timeout: 60_000 });
          const ms = performance.now() - t0;
          await page.close();
          if (round > 0) (samples[n][name] ??= []).push(ms);
        }
        const t0 = performance.now();
        await (await fetch(`${f.url}/api/health/overview`)).json();
        if (round > 0) (samples[n]["api overview (cache cold)"] ??= []).push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 1100)); // let the overview cache expire
      }
    }
  } finally {
    await browser.close();
    for (const f of Object.values(fleets)) await f.service.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { minMs: Math.round(s[0]), medianMs: Math.round(s[s.length >> 1]), maxMs: Math.round(s[s.length - 1]) };
  };
  const out: Record<string, Record<string, ReturnType<typeof stats>>> = {};
  for (const [n, byPage] of Object.entries(samples)) out[`${n} devices`] = Object.fromEntries(Object.entries(byPage).map(([k, v]) => [k, stats(v)]));
  return { rounds: ROUNDS, warmupRounds: 1, measured: "navigation start to the page's data rendered (body[data-rendered]), fresh tab each time", ...out };
}

export default pageLoad;

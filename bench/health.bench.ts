/**
 * Proactive support figures (issue 14):
 * - the health rules against simulated truth on scenarios/health-truth.json (2,000 devices, a
 *   simulated week by default): precision, recall and lead time of "replace battery" and
 *   "dispatch repeater", and how soon the 1.3.0 cohort (30 % more current) is flagged;
 * - the dashboard's page load time in headless Chromium with 10,000 devices, beside the same
 *   pages with 1,000 devices (interleaved), 1 warm-up + 5 rounds each.
 * HEALTH_BENCH_DEVICES / HEALTH_BENCH_DAYS change the fleet for a quicker look.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { nodeSha256 } from "../device/platform/node/sha256";
import { runHealthTruth } from "../host-sim/fleet/health-truth";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { parseScenario } from "../host-sim/fleet/scenario";
import { realClock } from "../service/clock";
import { FleetService } from "../service/fleet-service";
import { parseRules } from "../service/health/config";
import { ProactiveSupport } from "../service/health/module";
import type { ServiceTransport } from "../service/transport/transport";
import type { TelemetryBatch } from "../device/core/telemetry/record";

const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const ROUNDS = 5;

async function alertFigures() {
  const devices = Number(process.env.HEALTH_BENCH_DEVICES ?? 2000);
  const days = Number(process.env.HEALTH_BENCH_DAYS ?? 7);
  const scenario = parseScenario(readFileSync("scenarios/health-truth.json", "utf8"), "scenarios/health-truth.json");
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const t0 = performance.now();
  const r = runHealthTruth({ devices, durationMs: days * 86_400_000, seed: scenario.seed ?? 1405, scenario, library, sha256: nodeSha256, evaluateEveryMs: 3_600_000 });
  const fw = r.cohorts.filter((c) => c.subject === "firmware=1.3.0");
  const pick = (s: typeof r.dispatchRepeater) => ({ precision: s.precision, recall: s.recall, truePositives: s.truePositives, falsePositives: s.falsePositives, falseNegatives: s.falseNegatives });
  return {
    scenario: "scenarios/health-truth.json",
    devices,
    simulatedDays: days,
    seed: scenario.seed,
    wallSeconds: (performance.now() - t0) / 1000,
    replaceBattery: { ...pick(r.replaceBattery), medianLeadDays: r.replaceBattery.medianLeadDays, minLeadDays: r.replaceBattery.leadDays.length ? Math.min(...r.replaceBattery.leadDays) : null },
    dispatchRepeater: pick(r.dispatchRepeater),
    cohort: { firmware130Alerts: fw.length, firmware130FlaggedAfterHours: fw[0]?.openedAfterHours ?? null, allCohortAlerts: r.cohorts },
    alertsByRule: r.alertsByRule,
    telemetryLost: r.summary.telemetry.lost,
  };
}

class NullTransport implements ServiceTransport {
  onBatch(): void {}
  async start(): Promise<void> {}
  async publish(): Promise<void> {}
  connected(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

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
  const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", args: [...CHROMIUM_FLAGS, `--user-data-dir=${join(dir, "chromium")}`], headless: true });
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

export default async function () {
  const only = process.env.HEALTH_BENCH_ONLY;
  return {
    ...(only === "alerts" ? {} : { dashboard: await pageLoad() }),
    ...(only === "dashboard" ? {} : { alerts: await alertFigures() }),
  };
}

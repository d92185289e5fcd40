/**
 * `tether fleet serve --rules` as a real process against Mosquitto and aedes, with real
 * `tether device` processes: an installer's `tether fleet commission` passes for a working device
 * and names the reason for one the service never heard from; a device that stops raises an
 * offline alert whose webhook delivery (with its id) reaches a receiver; it resolves on return.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedBroker } from "../../host-sim/brokers/embedded";
import { buildCli, removeCli, runCli, type CliProcess } from "../helpers/cli";
import { freePort, startMosquitto } from "../helpers/mosquitto";
import { tempDir } from "../helpers/temp";

let runner: string;
beforeAll(async () => {
  runner = await buildCli("health-serve");
}, 120_000);
afterAll(() => removeCli(runner));

async function until<T>(f: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function exitCode(p: CliProcess): Promise<number | null> {
  return new Promise((r) => (p.child.exitCode !== null ? r(p.child.exitCode) : p.child.once("exit", (c) => r(c))));
}

const brokers = {
  mosquitto: async () => {
    const m = await startMosquitto();
    return { url: `mqtt://127.0.0.1:${m.port}`, stop: () => m.stop() };
  },
  aedes: async () => {
    const b = await startEmbeddedBroker({ port: 0 });
    return { url: b.url, stop: () => b.close() };
  },
};

describe.each(Object.keys(brokers) as (keyof typeof brokers)[])("fleet serve --rules on %s", (name) => {
  it("commissions a working device, explains a missing one, and delivers an offline alert's webhook", async () => {
    const dir = tempDir("tether-serve-");
    const broker = await brokers[name]();
    const hooks: { id: string; header: string; event: string; rule: string; subject: string }[] = [];
    const rx: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const b = JSON.parse(body);
        hooks.push({ id: b.id, header: String(req.headers["tether-delivery"]), event: b.event, rule: b.alert.rule, subject: b.alert.subject });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => rx.listen(0, "127.0.0.1", r));
    const rules = {
      offline: { minSilenceMs: 2000, missedIntervals: 3, actions: ["hook"] },
      commissioning: { minReports: 3, minRssiDbm: -100, minBatteryPct: 10 },
      evaluateEvery: 1000,
      actions: { hook: { type: "webhook", url: `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook` } },
    };
    writeFileSync(`${dir}/rules.json`, JSON.stringify(rules));
    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    const serve = runCli(runner, ["fleet", "serve", "--broker", broker.url, "--db", `${dir}/fleet.db`, "--http", `127.0.0.1:${port}`, "--rules", `${dir}/rules.json`, "--client-id", `svc-${name}`]);
    let device: CliProcess | undefined;
    try {
      await serve.waitFor(/dashboard on http:\/\/127\.0\.0\.1:\d+\//);
      await serve.waitFor(/subscribed/);
      device = runCli(runner, ["device", "--id", "dev-1", "--broker", broker.url, "--interval", "1000", "--power-on-max", "0", "--json"]);
      const ok = runCli(runner, ["fleet", "commission", "dev-1", "--wait", "40s", "--server", server]);
      expect(await exitCode(ok), ok.lines.join("\n") + ok.stderr()).toBe(0);
      expect(ok.lines.join("\n")).toMatch(/^dev-1: confirmed — online, \d+ reports, battery \d+ % normal, RSSI -\d+ dBm, firmware \S+ confirmed$/m);
      const missing = runCli(runner, ["fleet", "commission", "dev-404", "--server", server]);
      expect(await exitCode(missing)).toBe(1);
      expect(missing.lines.join("\n")).toContain("dev-404: NOT confirmed\n  - no telemetry from dev-404 yet: check that it is powered, its Wi-Fi credentials and its device id");
      const recorded = (await (await fetch(`${server}/api/devices/dev-1/commissioning`)).json()) as { results: { ok: boolean }[] };
      expect(recorded.results.map((r) => r.ok)).toContain(true);
      // The device goes away: offline alert, webhook with its delivery id.
      await device.stop();
      const opened = await until(() => hooks.find((h) => h.rule === "offline" && h.event === "opened"), 30_000, "the offline webhook");
      expect(opened).toMatchObject({ subject: "dev-1", header: opened.id });
      expect(opened.id).toMatch(/^\d+-opened-hook$/);
      const alerts = (await (await fetch(`${server}/api/alerts?rule=offline&state=unresolved`)).json()) as { alerts: { subject: string }[] };
      expect(alerts.alerts.map((a) => a.subject)).toEqual(["dev-1"]);
      // It comes back: resolved, and the receiver hears that too.
      device = runCli(runner, ["device", "--id", "dev-1", "--broker", broker.url, "--interval", "1000", "--power-on-max", "0", "--json"]);
      await until(() => hooks.find((h) => h.rule === "offline" && h.event === "resolved"), 30_000, "the resolved webhook");
      const page = await fetch(`${server}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script src="/app.js">');
    } finally {
      await device?.stop();
      expect(await serve.stop()).toBe(0);
      await new Promise((r) => rx.close(r));
      await broker.stop();
    }
  }, 120_000);
});

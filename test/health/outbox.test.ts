import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { SMTPServer } from "smtp-server";
import { Outbox, type Sender } from "../../service/actions/outbox";
import { sendWebhook } from "../../service/actions/webhook";
import { closeEmailTransports, sendEmail } from "../../service/actions/email";
import { sendCsv } from "../../service/actions/csv";
import { mqttCommandSender } from "../../service/actions/mqtt-command";
import { parseRules } from "../../service/health/config";
import { HealthEngine } from "../../service/health/engine";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { tempDir } from "../helpers/temp";
import { batch, healthDb } from "./helpers";

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A webhook receiver that can be switched off (connections refused) and on again on the same port. */
class Receiver {
  server: Server | undefined;
  port = 0;
  readonly got: { id: string; header: string; body: { id: string; event: string; alert: { subject: string } } }[] = [];
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const parsed = JSON.parse(body);
        this.got.push({ id: parsed.id, header: String(req.headers["tether-delivery"]), body: parsed });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise((r) => (s.closeAllConnections(), s.close(r)));
  }
}

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.stop();
  closeEmailTransports();
});

/** Runs virtual time forward in steps, letting real I/O (HTTP) finish between them. */
async function runFor(clock: VirtualClock, outbox: Outbox, ms: number, step = 1000): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.advance(Math.min(step, end - clock.now()));
    await outbox.idle();
    await new Promise((r) => setTimeout(r, 0));
  }
}

function lowBatteryFleet(e: HealthEngine, n: number, seq: number): void {
  for (let i = 0; i < n; i++) e.telemetry(batch(`dev-${i}`, { seq, tteMin: 1440 }));
}

describe("webhook deliveries", () => {
  it("survive a receiver down for an hour and a restart of the service: none lost, each with its id", async () => {
    const dir = tempDir("tether-outbox-");
    const rx = new Receiver();
    receivers.push(rx);
    await rx.start();
    await rx.stop(); // down from the start: every first attempt is refused
    const rules = parseRules({ lowBattery: { actions: ["ops"] }, actions: { ops: { type: "webhook", url: `http://127.0.0.1:${rx.port}/hook` } } });
    const clock = new VirtualClock(Date.UTC(2026, 10, 1));
    let db = healthDb(`${dir}/fleet.db`);
    let outbox = new Outbox(db, rules.actions, { webhook: sendWebhook }, clock, () => 0.5);
    let engine = new HealthEngine({ db, rules, now: () => clock.now(), outbox });
    outbox.start();
    lowBatteryFleet(engine, 30, 1);
    expect(engine.evaluate()).toHaveLength(30);
    await runFor(clock, outbox, 30 * MIN, 60_000);
    expect(outbox.stats()).toMatchObject({ pending: 30, delivered: 0 });
    // The service is killed (no clean stop of anything in flight) and started again.
    outbox.stop();
    db.close();
    db = healthDb(`${dir}/fleet.db`);
    outbox = new Outbox(db, rules.actions, { webhook: sendWebhook }, clock, () => 0.5);
    engine = new HealthEngine({ db, rules, now: () => clock.now(), outbox });
    outbox.start();
    lowBatteryFleet(engine, 30, 2);
    expect(engine.evaluate()).toEqual([]); // the episodes are still open: nothing new
    await runFor(clock, outbox, 30 * MIN, 60_000);
    expect(rx.got).toHaveLength(0);
    await rx.start(); // back after an hour
    await runFor(clock, outbox, 10 * MIN, 5_000);
    expect(outbox.stats()).toMatchObject({ pending: 0, delivered: 30 });
    const ids = new Set(rx.got.map((g) => g.id));
    expect(ids.size).toBe(30);
    for (const g of rx.got) {
      expect(g.header).toBe(g.id);
      expect(g.body.event).toBe("opened");
    }
    expect([...new Set(rx.got.map((g) => g.body.alert.subject))].sort()).toHaveLength(30);
    outbox.stop();
    db.close();
  });

  it("retries with growing, capped backoff", async () => {
    const clock = new VirtualClock(0);
    const db = healthDb();
    const times: number[] = [];
    const failing: Sender = async () => {
      times.push(clock.now());
      throw new Error("down");
    };
    const rules = parseRules({ offline: { actions: ["x"] }, actions: { x: { type: "webhook", url: "http://127.0.0.1:9/" } } });
    const outbox = new Outbox(db, rules.actions, { webhook: failing }, clock, () => 0.999);
    const engine = new HealthEngine({ db, rules, now: () => clock.now(), outbox });
    outbox.start();
    engine.seed("d", { lastSeenMs: -4 * HOUR, firmware: "1" });
    engine.evaluate();
    await runFor(clock, outbox, MIN, 100);
    await runFor(clock, outbox, 2 * HOUR, 20_000);
    // Attempts land on the 100 ms steps (then 20 s steps) of the virtual clock; the waits double up to the cap.
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    [2000, 4000, 8000, 16000].forEach((x, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(Math.floor(0.999 * x));
      expect(gaps[i]).toBeLessThanOrEqual(Math.floor(0.999 * x) + 200);
    });
    expect(Math.max(...gaps)).toBeGreaterThan(4 * MIN);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5 * MIN + 20_000);
    expect(outbox.list(1)[0]).toMatchObject({ lastError: "down", deliveredAtMs: null });
  });
});

describe("email, MQTT command and CSV actions", () => {
  it("sends mail through a real SMTP server", async () => {
    const mails: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, _session, cb) {
        let s = "";
        stream.on("data", (c: Buffer) => (s += c.toString()));
        stream.on("end", () => (mails.push(s), cb()));
      },
    });
    await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
    const port = (smtp.server.address() as AddressInfo).port;
    try {
      const clock = new VirtualClock(Date.UTC(2026, 10, 1));
      const db = healthDb();
      const rules = parseRules({ lowBattery: { actions: ["mail"] }, actions: { mail: { type: "email", smtp: `smtp://127.0.0.1:${port}`, from: "fleet@example.com", to: ["support@example.com"] } } });
      const outbox = new Outbox(db, rules.actions, { email: sendEmail }, clock);
      const engine = new HealthEngine({ db, rules, now: () => clock.now(), outbox });
      outbox.start();
      engine.telemetry(batch("dev-7", { seq: 1, tteMin: 2 * 1440 }));
      engine.evaluate();
      for (let i = 0; i < 200 && outbox.stats().delivered === 0; i++) await runFor(clock, outbox, 100, 100).then(() => new Promise((r) => setTimeout(r, 10)));
      expect(outbox.stats()).toMatchObject({ delivered: 1, pending: 0 });
      expect(mails).toHaveLength(1);
      expect(mails[0]).toContain("To: support@example.com");
      expect(mails[0]).toMatch(/Subject: \[tether\] opened: replace battery/);
      expect(mails[0]).toContain("battery empty in 2.0 days: replace battery by 2026-11-03");
      expect(mails[0]).toContain("Message-ID: <1-opened-mail@tether>");
      outbox.stop();
    } finally {
      await new Promise((r) => smtp.close(r as () => void));
    }
  });

  it("publishes a command to the device, and appends CSV rows", async () => {
    const dir = tempDir("tether-csv-");
    const clock = new VirtualClock(Date.UTC(2026, 10, 1));
    const db = healthDb();
    const published: [string, string, number][] = [];
    const rules = parseRules({
      lowBattery: { actions: ["slow", "log"] },
      actions: { slow: { type: "mqtt", topic: "tether/{device}/config", payload: { reportIntervalSec: 3600 } }, log: { type: "csv", file: `${dir}/alerts.csv` } },
    });
    const outbox = new Outbox(db, rules.actions, { mqtt: mqttCommandSender(async (t, p, q) => void published.push([t, p, q])), csv: sendCsv }, clock);
    const engine = new HealthEngine({ db, rules, now: () => clock.now(), outbox });
    outbox.start();
    engine.telemetry(batch("dev-1", { seq: 1, tteMin: 1440 }));
    engine.evaluate();
    engine.telemetry(batch("dev-1", { seq: 2, status: 1, pct: 98 })); // a new battery, charged
    engine.evaluate();
    await runFor(clock, outbox, 1000, 100);
    expect(published).toEqual([["tether/dev-1/config", '{"reportIntervalSec":3600}', 1]]);
    const csv = readFileSync(`${dir}/alerts.csv`, "utf8").trim().split("\n");
    expect(csv[0]).toBe("event,id,rule,subject,deviceId,state,action,summary,dueBy,openedAt,acknowledgedAt,resolvedAt");
    expect(csv.slice(1).map((l) => l.split(",").slice(0, 2).join(","))).toEqual(["opened,1", "resolved,1"]);
    expect(csv[1]).toContain('battery empty in 1.0 days: replace battery by 2026-11-02');
  });
});

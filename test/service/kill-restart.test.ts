// kill -9 of the real `tether fleet serve` process mid-rollout against Mosquitto: the restarted
// service resumes the rollout where it was (no device offered twice, no wave skipped, nothing
// acknowledged lost) and ends where an unkilled run of the same rollout ends. The rollout is
// driven with the real `tether rollout` CLI.
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { buildCli, removeCli, runCli, type CliProcess } from "../helpers/cli";
import { freePort, startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { tempDir } from "../helpers/temp";
import { makeBundle, startDevice, type Script } from "./scripted-fleet";

let cli: string;
beforeAll(async () => {
  cli = await buildCli("fleet-kill");
});
afterAll(() => {
  if (cli) removeCli(cli);
});

async function runOnce(cli: string, prefix: string, kill: boolean) {
  // Each run gets its own broker: the other run's retained statuses would add its devices to the registry.
  const mosquitto: Mosquitto = await startMosquitto();
  onTestFinished(() => mosquitto.stop());
  const dir = tempDir("fleet-kill-");
  const db = path.join(dir, "fleet.db");
  const url = `mqtt://127.0.0.1:${mosquitto.port}`;
  const port = await freePort();
  const server = `http://127.0.0.1:${port}`;
  const serveArgs = ["fleet", "serve", "--broker", url, "--db", db, "--http", `127.0.0.1:${port}`, "--client-id", `svc-${prefix}`, "--tick", "200ms"];
  let serve: CliProcess = runCli(cli, serveArgs);
  await serve.waitFor(/subscribed/, 20_000);
  const scripts: Script[] = Array.from({ length: 30 }, (_, i) => (i === 7 ? "rollback" : "succeed"));
  const devices = await Promise.all(scripts.map((s, i) => startDevice(url, `${prefix}-${String(i).padStart(2, "0")}`, 1_002_000, s, { reportMs: 300 })));
  const bundle = makeBundle(path.join(dir, "bundle"), 1_003_000);
  const cliJson = async (args: string[]) => {
    const p = runCli(cli, [...args, "--server", server, "--json"]);
    const code = await new Promise<number | null>((r) => p.child.once("exit", r));
    if (code !== 0) throw new Error(`tether ${args.join(" ")}: exit ${code}: ${p.stderr()}`);
    return JSON.parse(p.lines.join("\n"));
  };
  try {
    const count = async () => ((await (await fetch(`${server}/api/devices?prefix=${prefix}&firmware=1.2.0`)).json()) as { total: number }).total;
    for (let i = 0; i < 100 && (await count()) < 30; i++) await new Promise((r) => setTimeout(r, 100));
    const started = await cliJson([
      "rollout", "start", "--bundle", bundle, "--target", "firmware < 1.3.0", "--canary", "3", "--waves", "30%,60%,100%", "--rate", "600/min",
      "--max-failure", "50%", "--min-executed", "3", "--success-threshold", "60%", "--timeout", "1m", "--soak", "700ms",
    ]);
    const id = started.id as string;
    if (kill) {
      // Kill once the second wave has started and some of it is done: offers in flight, soaks pending.
      for (;;) {
        const s = (await (await fetch(`${server}/api/rollouts/${id}`)).json()) as any;
        if (s.wave >= 2 && s.counts.succeeded >= 5) break;
        if (s.status !== "running") throw new Error(`rollout ended before the kill: ${s.status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      serve.child.kill("SIGKILL");
      await new Promise((r) => serve.child.once("exit", r));
      await new Promise((r) => setTimeout(r, 500)); // devices keep reporting into the service's session meanwhile
      serve = runCli(cli, serveArgs);
      await serve.waitFor(/subscribed/, 20_000);
    }
    const poll = async () => (await fetch(`${server}/api/rollouts/${id}`)).json() as Promise<any>;
    for (let i = 0; i < 400; i++) {
      const s = await poll();
      if (s.status !== "running") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await cliJson(["rollout", "status", id]);
    const offersPerDevice = devices.map((d) => d.offers.length);
    await serve.stop();
    const rows = new Database(db, { readonly: true });
    const dbOffers = rows.prepare("SELECT offers, count(*) AS n FROM rollout_devices GROUP BY offers").all();
    const waves = rows.prepare("SELECT kind, detail FROM rollout_events WHERE kind LIKE 'wave%' ORDER BY id").all() as { kind: string; detail: string }[];
    const telemetry = rows.prepare("SELECT count(*) AS n FROM telemetry").get() as { n: number };
    const seqs = rows.prepare("SELECT device_id, max(seq) AS top, count(*) AS n FROM telemetry GROUP BY device_id").all() as { device_id: string; top: number; n: number }[];
    rows.close();
    return { status, offersPerDevice, dbOffers, waves: waves.map((w) => `${w.kind}:${JSON.parse(w.detail).wave}`), telemetry: telemetry.n, seqs, devices };
  } finally {
    for (const d of devices) await d.stop();
    if (serve.child.exitCode === null) await serve.stop();
  }
}

describe("kill -9 of tether fleet serve mid-rollout (Mosquitto)", () => {
  it("resumes exactly where it was and ends like the unkilled run", async () => {
    const plain = await runOnce(cli, "plain", false);
    const killed = await runOnce(cli, "killed", true);
    for (const run of [plain, killed]) {
      expect(run.status.status).toBe("completed");
      expect(run.status.counts).toMatchObject({ total: 30, succeeded: 29, failures: 1 });
      // Each device got one offer (the service's count and the devices' own).
      expect(run.dbOffers).toEqual([{ offers: 1, n: 30 }]);
      expect(run.offersPerDevice.every((n) => n === 1)).toBe(true);
      // No wave skipped: each wave succeeded, then the next started.
      expect(run.waves).toEqual(["wave-succeeded:0", "wave-started:1", "wave-succeeded:1", "wave-started:2", "wave-succeeded:2", "wave-started:3", "wave-succeeded:3"]);
      // Telemetry: every batch up to the last the devices sent before the run ended, none twice.
      for (const s of run.seqs) expect(s.n).toBe(s.top);
    }
    expect(killed.status.counts.byState).toEqual(plain.status.counts.byState);
  }, 180_000);
});

/**
 * The whole `tether fleet serve` process at 10,000 devices reporting every 60 s (a benchmark,
 * not a test): the real CLI in a child process against Mosquitto, with a rollout over the 10,000
 * devices running (its tick every 5 s, the default), fed 166.7 telemetry messages/s over MQTT
 * QoS 1 by a publisher in this process. The service's CPU is read from /proc/<pid>/stat, so the
 * socket reads, MQTT parsing, SQLite, the rollout tick and the health rules are all in it.
 *
 * Peer, interleaved: the same service and rollout with no telemetry arriving (what the process
 * costs by itself). Rounds: 1 warm-up then 5 measured, each a loaded window then an idle one.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { encodeTelemetryBatch } from "../device/core/telemetry/record";
import { buildCli, removeCli, runCli } from "../test/helpers/cli";
import { freePort, startMosquitto } from "../test/helpers/mosquitto";
import { makeBundle } from "../test/service/scripted-fleet";

const DEVICES = 10_000;
const REPORT_EVERY_MS = 60_000;
const WINDOW_MS = 60_000; // one minute: each window holds one run of the once-a-minute jobs (rollout health, health rules)
const ROUNDS = 5;
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s
const EPOCH = 1_795_000_000_000;

const id = (d: number) => `b-${String(d).padStart(5, "0")}`;

function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // after "pid (comm) "
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime + stime
}

function stats(v: number[]) {
  const s = [...v].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}

export default async function measure() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-bench-serve-"));
  const broker = await startMosquitto();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const cli = await buildCli("bench-serve");
  const port = await freePort();
  const server = `http://127.0.0.1:${port}`;
  const serve = runCli(cli, ["fleet", "serve", "--broker", url, "--db", path.join(dir, "fleet.db"), "--http", `127.0.0.1:${port}`, "--client-id", "bench-svc"]);
  const pub = await mqtt.connectAsync(url, { clientId: "bench-devices", protocolVersion: 4, reconnectPeriod: 0 });
  const seqs = new Uint32Array(DEVICES);
  const report = (d: number) => {
    const seq = ++seqs[d];
    const t = EPOCH + seq * REPORT_EVERY_MS;
    return pub.publishAsync(`tether/${id(d)}/telemetry`, Buffer.from(encodeTelemetryBatch({
      deviceId: id(d), seq, firmware: "1.2.0", slot: 0, resetReason: "power-on", timeBase: "wall", madeAtMs: t, uptimeMs: seq * REPORT_EVERY_MS,
      link: { state: "online", reconnects: 1 }, battery: { mv: 3900, pct: 80, status: 0, dropBpPerHour: 61, timeToEmptyMin: 5000 },
      samples: [{ tMs: t, temperatureCentiC: 2150, humidityPermille: 456, rssiDbm: -67 }],
    })), { qos: 1 });
  };
  const loaded: number[] = [];
  const idle: number[] = [];
  const sent: number[] = [];
  try {
    await serve.waitFor(/subscribed/, 30_000);
    // Every device known, then a rollout over all of them (its devices never answer: it stays in its canary).
    // In steps of 500, each taken in before the next: Mosquitto queues at most 1,000 messages
    // (max_queued_messages) for the service's session and drops the rest.
    const total = async () => ((await (await fetch(`${server}/api/devices?prefix=b-&limit=1`)).json()) as { total: number }).total;
    for (let d = 0; d < DEVICES; d += 500) {
      await Promise.all(Array.from({ length: Math.min(500, DEVICES - d) }, (_, i) => report(d + i)));
      const want = Math.min(DEVICES, d + 500);
      for (let i = 0; i < 300 && (await total()) < want; i++) await new Promise((r) => setTimeout(r, 100));
      if ((await total()) < want) throw new Error(`the service registered ${await total()} of ${want} devices`);
    }
    const created = await fetch(`${server}/api/rollouts`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ bundle: makeBundle(path.join(dir, "bundle"), 1_003_000), target: "firmware < 1.3.0", canary: 20, waves: "5%,25%,100%", rate: "100/min", maxFailure: "5%", minExecuted: 20, timeout: "30m", soak: "2h" }),
    });
    if (created.status !== 201) throw new Error(`rollout not created: ${created.status} ${await created.text()}`);
    let next = 0;
    for (let round = 0; round <= ROUNDS; round++) {
      // Loaded window: 10,000 devices / 60 s = 166.7 reports per second, sent every 50 ms.
      let count = 0;
      const c0 = cpuMs(serve.child.pid!);
      const t0 = performance.now();
      const pending: Promise<unknown>[] = [];
      while (performance.now() - t0 < WINDOW_MS) {
        const due = Math.floor(((performance.now() - t0) * DEVICES) / REPORT_EVERY_MS);
        while (count < due) {
          pending.push(report(next));
          next = (next + 1) % DEVICES;
          count++;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(pending);
      const loadedMs = performance.now() - t0;
      const c1 = cpuMs(serve.child.pid!);
      // Idle window: the same process, nothing arriving.
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const idleMs = performance.now() - t0 - loadedMs;
      const c2 = cpuMs(serve.child.pid!);
      if (round === 0) continue; // warm-up
      loaded.push(((c1 - c0) / loadedMs) * 100);
      idle.push(((c2 - c1) / idleMs) * 100);
      sent.push((count * 1000) / loadedMs);
    }
    return {
      parameters: { devices: DEVICES, reportEveryMs: REPORT_EVERY_MS, windowMs: WINDOW_MS, rounds: ROUNDS, warmup: 1, broker: "Mosquitto (Debian), loopback", rollout: "canary 20, waves 5%,25%,100%, 100/min, tick 5 s; devices never answer" },
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      serviceCpuPercentOfOneCoreLoaded: stats(loaded),
      serviceCpuPercentOfOneCoreIdle: stats(idle),
      reportsPerSecondSent: stats(sent),
      note: "CPU of the `tether fleet serve` process (utime + stime from /proc) over each window, in % of one core; loaded = 10,000 devices × one report per 60 s arriving, idle = the same process and rollout with nothing arriving (the peer)",
    };
  } finally {
    await pub.endAsync().catch(() => {});
    await serve.stop().catch(() => null);
    removeCli(cli);
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

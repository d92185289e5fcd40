/**
 * The peers a fleet bench runs beside `tether sim` in the same round: the encode-only floor
 * (what one telemetry message costs at the least) and, when a checkout is given, Synth.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodePublish } from "../../device/core/mqtt/codec";
import { encodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";

/** The issue's Synth figures (another machine, wall clock), the comparison when SYNTH_DIR is not given. */
export const SYNTH_ISSUE_FIGURES = "81,000 events/s at 1,000 devices × 24 h, about 60,000 events/s at 10,000 devices (issue 15; measured elsewhere, wall clock, one core)";

/** The cost floor: CBOR-encode the same kind of batch and frame it as a QoS 1 PUBLISH. */
export function encodeOnly(messages: number) {
  const batch: TelemetryBatch = {
    deviceId: "dev-000123",
    seq: 0,
    firmware: "1.0.0",
    slot: 0,
    resetReason: "power-on",
    timeBase: "wall",
    madeAtMs: 1_767_225_600_000,
    uptimeMs: 0,
    link: { state: "online", reconnects: 0, queued: 0, dropped: 0 },
    battery: { mv: 4010, pct: 87, status: 0, alarm: "none" },
    samples: [{ tMs: 1_767_225_600_000, temperatureCentiC: 2150, humidityPermille: 480, rssiDbm: -60 }],
  };
  const topic = "tether/dev-000123/telemetry";
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < messages; i++) {
    batch.seq = i;
    batch.uptimeMs = i * 60_000;
    batch.madeAtMs += 60_000;
    batch.samples[0].tMs = batch.madeAtMs;
    bytes += encodePublish({ topic, payload: encodeTelemetryBatch(batch), qos: 1, packetId: (i % 65535) + 1 }).length;
  }
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { messages, wallSeconds: s, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytesPerMessage: Math.round(bytes / messages) };
}

/**
 * Synth (pilgrimbeart/synth, `python synth <parameter files>` from its checkout) on the same
 * fleet: `devices` devices created at the start, each with a heartbeat every 60 s, for `hours`
 * simulated hours, everything sent to its null client. Synth reads parameter files as
 * scenarios/<name>.json relative to its folder, so the file in a temp folder is named by a
 * relative path (its log, ../synth_logs/<name>.out, resolves into / beside that temp folder).
 * Events: the heartbeats asked for, devices × hours × 60. Timed by /usr/bin/time.
 */
export function synthFleet(dir: string, devices: number, hours: number, python = process.env.SYNTH_PYTHON ?? "python") {
  if (!fs.existsSync(path.join(dir, "synth", "__main__.py"))) throw new Error(`SYNTH_DIR=${dir} is not a Synth checkout (no synth/__main__.py)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tether-synth-"));
  const start = Date.UTC(2026, 0, 1);
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);
  const config = {
    client: { type: "null" },
    engine: { type: "sim", start_time: iso(start), end_time: iso(start + hours * 3_600_000) },
    events: [{ at: "PT0S", repeats: devices, interval: "PT0S", action: { create_device: { functions: { heartbeat: { interval: "PT60S" } } } } }],
  };
  const file = path.join(tmp, "tether-bench");
  fs.writeFileSync(`${file}.json`, JSON.stringify(config));
  try {
    const t0 = performance.now();
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S", python, "synth", path.relative(path.join(dir, "scenarios"), file)], { cwd: dir, encoding: "utf8", maxBuffer: 1 << 26 });
    const wallSeconds = (performance.now() - t0) / 1000;
    if (r.error || r.status !== 0) throw new Error(`Synth (${python} synth in ${dir}) failed: ${r.error?.message ?? `exit ${r.status ?? r.signal}`}\n${(r.stderr ?? "").slice(-2000)}`);
    const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    return { events: devices * hours * 60, wallSeconds, cpuSeconds: user + sys };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}


// Fleet benchmarks (numbers, not pass/fail):
// 1. --broker virtual: N real agents × H simulated hours, telemetry every 60 s, one thread.
//    ROUNDS measured rounds after one warm-up round; in each round the peer, an encode-only loop
//    (the same kind of CBOR batch + QoS 1 PUBLISH frame, as many messages), runs right after the
//    fleet, so both see the same machine load. Messages per wall second and per CPU second
//    (process.cpuUsage: on a shared machine CPU time is the steadier figure), min/median/max,
//    the ratio to the encode floor, and the projection to 10,000 devices × 24 h (14.4 M messages).
//    SYNTH_DIR=<a pilgrimbeart/synth checkout> adds Synth as a second peer in each round, on the
//    same fleet (DEVICES devices, a heartbeat every 60 s each, HOURS simulated hours, its null
//    client); SYNTH_PYTHON names its interpreter (default "python"). Without it the results say
//    Synth was not run, and only the issue's figures (measured elsewhere) compare.
// 2. Heap per idle virtual device (target ≤ 32 KB), ROUNDS rounds.
// 3. Optional (FLEET_RT_DEVICES > 0): real time against Mosquitto on loopback, one round. Its
//    connect rate measures the scenario's power-on jitter, not capacity.
// Sizes via env (defaults keep `npm run bench` to a few minutes):
//   FLEET_DEVICES=10000 FLEET_HOURS=24 FLEET_IDLE_DEVICES=10000 FLEET_ROUNDS=5 npm run bench -- fleet
//   SYNTH_DIR=$HOME/synth FLEET_DEVICES=1000 FLEET_HOURS=24 npm run bench -- fleet
// BENCH_OUT=fleet-10k-1h keeps another size's results beside bench/results/fleet.json.
import os from "node:os";
import mqtt from "mqtt";
import { nodeSha256 } from "../device/platform/node/sha256";
import { VirtualFleet } from "../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { RealtimeBackend, RealtimeDevices, missing, peakPerSecond } from "../host-sim/fleet/realtime";
import { validateScenario } from "../host-sim/fleet/scenario";
import { startMosquitto } from "../test/helpers/mosquitto";
import { SYNTH_ISSUE_FIGURES, encodeOnly, synthFleet } from "./lib/fleet-peers";
import { spread } from "./lib/measure";

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const DEVICES = env("FLEET_DEVICES", 1000);
const HOURS = env("FLEET_HOURS", 2);
const IDLE_DEVICES = env("FLEET_IDLE_DEVICES", 2000);
const ROUNDS = Math.max(1, env("FLEET_ROUNDS", 5));
const RT_DEVICES = env("FLEET_RT_DEVICES", 0);
const RT_SECONDS = env("FLEET_RT_SECONDS", 30);
const TARGET_MESSAGES = 10_000 * 24 * 60;
const SYNTH_DIR = process.env.SYNTH_DIR;
const SYNTH_PYTHON = process.env.SYNTH_PYTHON ?? "python";

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function virtualFleet(library: Awaited<ReturnType<typeof buildFirmwareLibrary>>) {
  const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" } }] });
  const cpu0 = process.cpuUsage();
  const f = new VirtualFleet({ devices: DEVICES, durationMs: HOURS * 3_600_000, seed: 1, scenario, library, sha256: nodeSha256, wallNow: () => performance.now() });
  const s = f.run();
  const cpu = process.cpuUsage(cpu0);
  return {
    wallSeconds: s.wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    messages: s.telemetry.published,
    lost: s.telemetry.lost,
    deviceHoursPerWallSecond: s.deviceHoursPerWallSecond,
    traceHash: s.traceHash,
    heapMB: Math.round(process.memoryUsage().heapUsed / 1e6),
  };
}

async function idleHeap() {
  // Idle: connected, nothing to report for a day; keep-alive pings only.
  const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "1d" }, keepAlive: "20m" }] });
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const before = heap();
  const f = new VirtualFleet({ devices: IDLE_DEVICES, durationMs: 3_600_000, seed: 2, scenario, library, sha256: nodeSha256 });
  const built = heap();
  for (const d of f.devices) d.powerOn("power-on");
  f.clock.runUntil(5 * 60_000);
  const online = f.online;
  const after = heap();
  return {
    devices: IDLE_DEVICES,
    online,
    bytesPerDeviceConstructed: Math.round((built - before) / IDLE_DEVICES),
    bytesPerIdleDevice: Math.round((after - before) / IDLE_DEVICES),
    targetBytes: 32 * 1024,
    keepFleetAlive: f.devices.length > 0,
  };
}

async function realtimeMosquitto() {
  const broker = await startMosquitto({ config: ["max_queued_messages 10000"] });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  try {
    const scenario = validateScenario({ groups: [{ telemetry: { reportInterval: "10s" }, keepAlive: "60s", powerOnDelayMax: "1s" }] });
    const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
    const backend = new RealtimeBackend([url]);
    await backend.start();
    const m0 = heap();
    const rss0 = process.memoryUsage().rss;
    const devs = new RealtimeDevices({ devices: RT_DEVICES, seed: 3, scenario, brokers: [url], library, shard: { index: 0, count: 1 } });
    const t0 = Date.now();
    devs.start();
    while (devs.stats.firstConnects.length < RT_DEVICES && Date.now() - t0 < 120_000) await sleep(100);
    const connected = devs.stats.firstConnects.length;
    const first = [...devs.stats.firstConnects].sort((a, b) => a - b);
    const span = first.length > 1 ? (first[first.length - 1] - first[0]) / 1000 : 0;
    const m1 = heap();
    const rss1 = process.memoryUsage().rss;
    await sleep(RT_SECONDS * 1000);
    devs.closeBooks();
    await sleep(3000);
    await devs.stop();
    await sleep(500);
    backend.stop();
    const { lost, published } = missing(devs.stats.made, backend.seen);
    const agents = {
      devices: RT_DEVICES,
      connected,
      connectRampSeconds: span,
      connectsPerSecond: Math.round(connected / Math.max(span, 0.001)),
      peakConnectsPerSecond: peakPerSecond(first),
      telemetryPublished: published,
      telemetryLost: lost,
      heapBytesPerDevice: Math.round((m1 - m0) / RT_DEVICES),
      rssBytesPerDevice: Math.round((rss1 - rss0) / RT_DEVICES),
    };
    // The same number of plain mqtt.js clients, connected and idle.
    const p0 = heap();
    const r0 = process.memoryUsage().rss;
    const clients: mqtt.MqttClient[] = [];
    const c0 = Date.now();
    await Promise.all(
      Array.from({ length: RT_DEVICES }, (_, i) => {
        const c = mqtt.connect(url, { clientId: `mqttjs-${i}`, clean: false, keepalive: 60, reconnectPeriod: 0 });
        clients.push(c);
        return new Promise<void>((resolve) => {
          c.once("connect", () => resolve());
          c.once("error", () => resolve());
        });
      }),
    );
    const mqttjsConnectSeconds = (Date.now() - c0) / 1000;
    const p1 = heap();
    const r1 = process.memoryUsage().rss;
    await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
    return {
      broker: "mosquitto (loopback)",
      telemetryIntervalSeconds: 10,
      runSeconds: RT_SECONDS,
      agents,
      mqttjs: {
        clients: RT_DEVICES,
        connectSeconds: mqttjsConnectSeconds,
        heapBytesPerClient: Math.round((p1 - p0) / RT_DEVICES),
        rssBytesPerClient: Math.round((r1 - r0) / RT_DEVICES),
      },
    };
  } finally {
    await broker.stop();
  }
}

export default async function () {
  const load0 = os.loadavg()[0];
  const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" } }] });
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const fleet: Awaited<ReturnType<typeof virtualFleet>>[] = [];
  const floor: ReturnType<typeof encodeOnly>[] = [];
  const synth: ReturnType<typeof synthFleet>[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const v = await virtualFleet(library);
    const e = encodeOnly(v.messages);
    const y = SYNTH_DIR ? synthFleet(SYNTH_DIR, DEVICES, HOURS, SYNTH_PYTHON) : undefined;
    if (round === 0) continue; // warm-up
    fleet.push(v);
    floor.push(e);
    if (y) synth.push(y);
  }
  const hashes = [...new Set(fleet.map((v) => v.traceHash))];
  const perWall = (r: { messages: number; wallSeconds: number }) => r.messages / r.wallSeconds;
  const perCpu = (r: { messages: number; cpuSeconds: number }) => r.messages / r.cpuSeconds;
  const idle = [];
  // FLEET_IDLE_DEVICES=0 skips the idle-heap rounds (a large throughput run measures throughput only).
  for (let round = 0; IDLE_DEVICES > 0 && round <= ROUNDS; round++) {
    const r = await idleHeap();
    if (round > 0) idle.push(r);
  }
  return {
    parameters: { SYNTH_DIR: SYNTH_DIR ?? null, FLEET_DEVICES: DEVICES, FLEET_HOURS: HOURS, FLEET_IDLE_DEVICES: IDLE_DEVICES, FLEET_ROUNDS: ROUNDS, FLEET_RT_DEVICES: RT_DEVICES, telemetryEverySeconds: 60, warmupRounds: 1 },
    virtual: {
      devices: DEVICES,
      simulatedHours: HOURS,
      messages: fleet[0].messages,
      lost: Math.max(...fleet.map((v) => v.lost)),
      sameTraceHashEveryRound: hashes.length === 1,
      traceHash: hashes.join(","),
      wallSeconds: spread(fleet.map((v) => v.wallSeconds), 2),
      cpuSeconds: spread(fleet.map((v) => v.cpuSeconds), 2),
      messagesPerWallSecond: spread(fleet.map(perWall)),
      messagesPerCpuSecond: spread(fleet.map(perCpu)),
      cpuMicrosecondsPerMessage: spread(fleet.map((v) => (v.cpuSeconds * 1e6) / v.messages), 1),
      deviceHoursPerWallSecond: spread(fleet.map((v) => v.deviceHoursPerWallSecond)),
      projected10kx24hCpuSeconds: spread(fleet.map((v) => TARGET_MESSAGES / perCpu(v))),
      targetWallSeconds: 120,
      heapMB: spread(fleet.map((v) => v.heapMB)),
    },
    encodeOnly: {
      messages: floor[0].messages,
      bytesPerMessage: floor[0].bytesPerMessage,
      messagesPerWallSecond: spread(floor.map(perWall)),
      messagesPerCpuSecond: spread(floor.map(perCpu)),
    },
    // Per round: fleet CPU per message over the floor's CPU per message in the same round.
    cpuRatioToEncodeFloor: spread(fleet.map((v, i) => perCpu(floor[i]) / perCpu(v)), 1),
    synth:
      synth.length === 0
        ? `not run (SYNTH_DIR unset): compare with ${SYNTH_ISSUE_FIGURES}`
        : {
            dir: SYNTH_DIR,
            python: SYNTH_PYTHON,
            events: synth[0].events,
            wallSeconds: spread(synth.map((y) => y.wallSeconds), 2),
            cpuSeconds: spread(synth.map((y) => y.cpuSeconds), 2),
            eventsPerWallSecond: spread(synth.map((y) => y.events / y.wallSeconds)),
            eventsPerCpuSecond: spread(synth.map((y) => y.events / y.cpuSeconds)),
            // Per round: Tether's messages per CPU second over Synth's events per CPU second (goal ≥ 2 on the wall clock with --shards 2).
            tetherOverSynthPerCpuSecond: spread(fleet.map((v, i) => perCpu(v) / (synth[i].events / synth[i].cpuSeconds)), 2),
          },
    idle: IDLE_DEVICES === 0 ? "not run (FLEET_IDLE_DEVICES=0)" : {
      devices: IDLE_DEVICES,
      online: Math.min(...idle.map((r) => r.online)),
      bytesPerDeviceConstructed: spread(idle.map((r) => r.bytesPerDeviceConstructed)),
      bytesPerIdleDevice: spread(idle.map((r) => r.bytesPerIdleDevice)),
      targetBytes: 32 * 1024,
    },
    realtime: RT_DEVICES > 0 ? await realtimeMosquitto() : "not run (FLEET_RT_DEVICES=0)",
    machine: `${os.cpus().length} cores shared with other jobs while this ran (1-minute load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end): compare the CPU-second figures, and read wall seconds as an upper bound`,
  };
}

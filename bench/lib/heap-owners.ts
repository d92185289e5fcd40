/**
 * Where the heap of an idle virtual device goes, by owner (not a bench: a measurement tool).
 * Boots two idle fleets (the idle-heap bench's scenario: connected, keep-alive pings only) in fresh
 * processes, writes a V8 heap snapshot of each after a full GC, builds each snapshot's dominator
 * tree, labels every object with its nearest dominating owner (an instance of a known class:
 * FleetDevice, CowFlash, MemoryKv, MqttClient, ...), and prints bytes per device per owner: the
 * difference between the two fleets divided by the difference in devices, so what the fleet
 * shares (firmware library, modules) drops out.
 *
 *   node scripts/run-ts.mjs bench/lib/heap-owners.ts [smallFleet] [largeFleet]
 *
 * HEAP_RUN_MINUTES=M measures a working fleet instead: telemetry every 60 s, snapshots after M
 * simulated minutes (what a long run holds, not only an idle device).
 *
 * HEAP_OUT=<name> also writes bench/results/<name>.json (one snapshot per fleet size: a heap after a
 * full GC is a state, not a timing, so there are no rounds).
 *
 * HEAP_DETAIL=1 adds, under each owner, its largest kinds of objects (type and constructor or
 * function name), to see what to slim.
 *
 * An object shared by two owners (an agent reached from its device and from its timers in the
 * clock) belongs to their common dominator: the agent's objects show under "Agent" etc. because
 * the owner classes are labels themselves, wherever they hang.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { VirtualFleet } from "../../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../../host-sim/fleet/images";
import { validateScenario } from "../../host-sim/fleet/scenario";

/** Classes whose instances own what they dominate, and the owner row they count in. */
const OWNERS: Record<string, string> = {
  FleetDevice: "engine device record (FleetDevice)",
  CowFlash: "virtual flash (CowFlash: block lists)",
  CowPartition: "virtual flash (CowFlash: block lists)",
  MemoryKv: "key-value store (MemoryKv)",
  SimBattery: "battery simulator (SimBattery)",
  SimSensors: "sensor simulator (SimSensors)",
  VirtualWallClock: "wall clock (VirtualWallClock)",
  SeededRandom: "random sources (SeededRandom)",
  VirtualSocket: "network socket + pipes (VirtualSocket)",
  Pipe: "network socket + pipes (VirtualSocket)",
  DeviceNetwork: "boot ports (DeviceClock, DeviceNetwork, VirtualSystem)",
  DeviceClock: "boot ports (DeviceClock, DeviceNetwork, VirtualSystem)",
  VirtualSystem: "boot ports (DeviceClock, DeviceNetwork, VirtualSystem)",
  Agent: "agent: Agent object and what only it holds",
  Link: "agent: link (Link)",
  MqttClient: "agent: MQTT client (MqttClient)",
  MqttParser: "agent: MQTT parser (MqttParser)",
  Outbox: "agent: outbox (Outbox)",
  TelemetryReporter: "agent: telemetry (TelemetryReporter)",
  BatteryMonitor: "agent: battery monitor (BatteryMonitor)",
  AgentOta: "agent: OTA (AgentOta, OtaUpdater, OtaStore)",
  OtaUpdater: "agent: OTA (AgentOta, OtaUpdater, OtaStore)",
  OtaStore: "agent: OTA (AgentOta, OtaUpdater, OtaStore)",
  OtaMqttLink: "agent: OTA (AgentOta, OtaUpdater, OtaStore)",
  ConfigChannel: "agent: config channel (ConfigChannel)",
  SequenceCounter: "agent: sequence counter",
  Session: "broker: session (Session)",
  Connection: "broker: connection (Connection)",
  VirtualClock: "virtual clock: timer entries and callbacks",
  VirtualNetwork: "virtual network (fleet-wide)",
  VirtualBroker: "virtual broker (fleet-wide maps)",
  DeviceBook: "engine metrics (DeviceBook)",
  VirtualFleet: "engine (VirtualFleet fields)",
};

const [, , mode, ...args] = process.argv;
if (mode === "snap") await snapshot(Number(args[0]), args[1]);
else await main(Number(mode ?? 250), Number(args[0] ?? 1250));

/** Child: an idle fleet of `devices`, snapshot written to `file`. */
async function snapshot(devices: number, file: string) {
  const runMinutes = Number(process.env.HEAP_RUN_MINUTES ?? 0);
  const group = runMinutes > 0 ? { telemetry: { reportInterval: "60s" } } : { telemetry: { reportInterval: "1d" }, keepAlive: "20m" };
  const scenario = validateScenario({ drain: "0s", groups: [group] });
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const f = new VirtualFleet({ devices, durationMs: Math.max(3_600_000, runMinutes * 60_000), seed: 2, scenario, library, sha256: nodeSha256 });
  if (runMinutes > 0) f.begin();
  else for (const d of f.devices) d.powerOn("power-on");
  f.clock.runUntil((runMinutes > 0 ? runMinutes : 5) * 60_000);
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  gc();
  const heapUsed = process.memoryUsage().heapUsed;
  v8.writeHeapSnapshot(file);
  console.log(JSON.stringify({ devices, online: f.online, heapUsed, keep: f.devices.length }));
}

async function main(small: number, large: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-heap-"));
  try {
    const runs = [small, large].map((n) => {
      const file = path.join(dir, `${n}.heapsnapshot`);
      const out = execFileSync(process.execPath, ["--expose-gc", process.argv[1], "snap", String(n), file], { encoding: "utf8" });
      const info = JSON.parse(out.trim().split("\n").pop()!) as { devices: number; online: number; heapUsed: number };
      const { totals: owners, kinds } = ownerBytes(JSON.parse(fs.readFileSync(file, "utf8")));
      fs.rmSync(file);
      return { ...info, owners, kinds };
    });
    const [a, b] = runs;
    const per = (x: number, y: number) => (y - x) / (large - small);
    const rows = new Map<string, number>();
    for (const k of new Set([...a.owners.keys(), ...b.owners.keys()])) rows.set(k, per(a.owners.get(k) ?? 0, b.owners.get(k) ?? 0));
    const sorted = [...rows].filter(([, v]) => Math.abs(v) >= 16).sort((x, y) => y[1] - x[1]);
    const total = [...rows.values()].reduce((s, v) => s + v, 0);
    const what = process.env.HEAP_RUN_MINUTES ? `working devices after ${process.env.HEAP_RUN_MINUTES} simulated min (telemetry every 60 s)` : "idle devices";
    console.log(`fleets: ${small} and ${large} ${what} (online ${a.online} / ${b.online}); heapUsed ${(a.heapUsed / 1e6).toFixed(1)} / ${(b.heapUsed / 1e6).toFixed(1)} MB`);
    console.log(`heapUsed per device: ${Math.round(per(a.heapUsed, b.heapUsed))} B; snapshot self sizes per device: ${Math.round(total)} B`);
    console.log("| owner | bytes per device |\n|---|---:|");
    if (process.env.HEAP_OUT) {
      const record = {
        name: process.env.HEAP_OUT,
        date: new Date().toISOString(),
        node: process.version,
        host: { cpus: os.cpus().length, model: os.cpus()[0]?.model?.trim() ?? "unknown" },
        machine: `${os.cpus().length} cores; heap sizes do not depend on load`,
        parameters: { smallFleet: small, largeFleet: large, seed: 2, fleet: what, command: "HEAP_OUT=<name> [HEAP_RUN_MINUTES=M] node scripts/run-ts.mjs bench/lib/heap-owners.ts <small> <large>" },
        results: {
          heapUsedBytes: { small: a.heapUsed, large: b.heapUsed },
          heapUsedBytesPerDevice: Math.round(per(a.heapUsed, b.heapUsed)),
          snapshotBytesPerDevice: Math.round(total),
          bytesPerDeviceByOwner: Object.fromEntries(sorted.map(([k, v]) => [k, Math.round(v)])),
        },
      };
      const out = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "results", `${process.env.HEAP_OUT}.json`);
      fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
      console.log(`wrote ${out}`);
    }
    for (const [k, v] of sorted) {
      console.log(`| ${k} | ${Math.round(v)} |`);
      if (!process.env.HEAP_DETAIL) continue;
      const kinds = [...a.kinds.keys(), ...b.kinds.keys()].filter((x) => x.startsWith(`${k}\u0000`));
      const rowsOf = [...new Set(kinds)].map((x) => [x.split("\u0000")[1], per(a.kinds.get(x) ?? 0, b.kinds.get(x) ?? 0)] as const);
      for (const [kind, n] of rowsOf.sort((x, y) => y[1] - x[1]).slice(0, 8)) if (n >= 16) console.log(`|   ${kind} | ${Math.round(n)} |`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Self sizes summed by owner label (dominator tree, weak edges ignored). */
function ownerBytes(s: Snapshot): { totals: Map<string, number>; kinds: Map<string, number> } {
  const { meta } = s.snapshot;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf("type");
  const nName = meta.node_fields.indexOf("name");
  const nSize = meta.node_fields.indexOf("self_size");
  const nEdges = meta.node_fields.indexOf("edge_count");
  const eType = meta.edge_fields.indexOf("type");
  const eTo = meta.edge_fields.indexOf("to_node");
  const nodeTypes = meta.node_types[0];
  const weak = meta.edge_types[0].indexOf("weak");
  const N = s.nodes.length / NF;
  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) {
    firstEdge[i] = e;
    e += s.nodes[i * NF + nEdges];
    firstEdge[i + 1] = e;
  }
  const succ = (i: number, f: (j: number) => void) => {
    for (let e = firstEdge[i]; e < firstEdge[i + 1]; e++) if (s.edges[e * EF + eType] !== weak) f(s.edges[e * EF + eTo] / NF);
  };

  // Post-order from the root (node 0), iteratively.
  const po = new Int32Array(N).fill(-1);
  const order: number[] = [];
  const seen = new Uint8Array(N);
  const stack: number[] = [0];
  const cursor = new Uint32Array(N);
  seen[0] = 1;
  for (let i = 0; i < N; i++) cursor[i] = firstEdge[i];
  while (stack.length > 0) {
    const v = stack[stack.length - 1];
    let pushed = false;
    while (cursor[v] < firstEdge[v + 1]) {
      const e = cursor[v]++;
      if (s.edges[e * EF + eType] === weak) continue;
      const w = s.edges[e * EF + eTo] / NF;
      if (!seen[w]) {
        seen[w] = 1;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      po[v] = order.length;
      order.push(v);
    }
  }
  const R = order.length;
  // Predecessors in post-order numbers.
  const predCount = new Uint32Array(R + 1);
  for (const v of order) succ(v, (w) => predCount[po[w]]++);
  const predStart = new Uint32Array(R + 1);
  for (let i = 0; i < R; i++) predStart[i + 1] = predStart[i] + predCount[i];
  const preds = new Uint32Array(predStart[R]);
  const fill = predStart.slice();
  for (const v of order) succ(v, (w) => (preds[fill[po[w]]++] = po[v]));

  // Cooper, Harvey & Kennedy: iterate idoms in reverse post-order until stable.
  const idom = new Int32Array(R).fill(-1);
  const root = R - 1;
  idom[root] = root;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let b = root - 1; b >= 0; b--) {
      let d = -1;
      for (let k = predStart[b]; k < predStart[b + 1]; k++) {
        const p = preds[k];
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== -1 && idom[b] !== d) {
        idom[b] = d;
        changed = true;
      }
    }
  }

  // Labels top-down (reverse post-order: a dominator comes before what it dominates).
  const label: string[] = new Array(R);
  label[root] = "";
  const totals = new Map<string, number>();
  const kinds = new Map<string, number>();
  for (let b = root - 1; b >= 0; b--) {
    const v = order[b];
    const type = nodeTypes[s.nodes[v * NF + nType]];
    const name = s.strings[s.nodes[v * NF + nName]];
    const cls = type === "object" ? name.replace(/\d+$/, "").replace(/^_+/, "") : "";
    const own = OWNERS[cls];
    const inherited = label[idom[b]];
    const l = own ?? (inherited !== "" ? inherited : `(not owned) ${type} ${type === "string" || type === "number" ? "" : name.slice(0, 40)}`);
    label[b] = own ?? inherited;
    totals.set(l, (totals.get(l) ?? 0) + s.nodes[v * NF + nSize]);
    const kind = `${l}\u0000${type} ${type === "string" || type === "number" ? "" : name.slice(0, 40)}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + s.nodes[v * NF + nSize]);
  }
  return { totals, kinds };
}

// Devices inside XS in the fleet (host-sim/xs): what a device-hour costs in wall time when its
// agent runs in xsnap-worker (ESP32 stack, Moddable globals, every port call over the host
// command channel) against the same devices on Node. Each round runs the same fleet twice,
// Node then XS (interleaved), after a warm-up round; the two traces must hash the same.
// Sizes via env: XS_BENCH_DEVICES (4), XS_BENCH_HOURS (2), XS_BENCH_ROUNDS (5).
import os from "node:os";
import { nodeSha256 } from "../device/platform/node/sha256";
import { VirtualFleet } from "../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { validateScenario } from "../host-sim/fleet/scenario";
import { prepareXsRunner } from "../host-sim/xs/prepare";

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const DEVICES = env("XS_BENCH_DEVICES", 4);
const HOURS = env("XS_BENCH_HOURS", 2);
const ROUNDS = env("XS_BENCH_ROUNDS", 5);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};

export default async () => {
  const scenario = validateScenario({
    drain: "0s",
    groups: [{ telemetry: { sampleInterval: "2m", reportInterval: "5m" }, keepAlive: "60s", powerOnDelayMax: "10s" }],
  });
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const xs = await prepareXsRunner();
  const deviceHours = DEVICES * HOURS;
  const run = (inXs: number) => {
    const before = { ...xs.runner.cost };
    const t0 = performance.now();
    const s = new VirtualFleet({
      devices: DEVICES,
      durationMs: HOURS * 3_600_000,
      seed: 1,
      scenario,
      library,
      sha256: nodeSha256,
      ...(inXs > 0 ? { xs: { runner: xs.runner, devices: inXs } } : {}),
    }).run();
    const wall = (performance.now() - t0) / 1000;
    const cost = { deliveries: xs.runner.cost.deliveries - before.deliveries, portCalls: xs.runner.cost.portCalls - before.portCalls, computrons: xs.runner.cost.computrons - before.computrons };
    return { wall, hash: s.traceHash, published: s.telemetry.published, cost };
  };
  try {
    run(0);
    run(DEVICES); // warm-up
    const node: number[] = [];
    const inXs: number[] = [];
    let last: ReturnType<typeof run> | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      const a = run(0);
      const b = run(DEVICES);
      if (a.hash !== b.hash) throw new Error(`round ${r}: trace hash differs with devices in XS (${a.hash} vs ${b.hash})`);
      node.push((a.wall / deviceHours) * 1000);
      inXs.push((b.wall / deviceHours) * 1000);
      last = b;
    }
    const n = stats(node);
    const x = stats(inXs);
    return {
      parameters: { devices: DEVICES, hours: HOURS, rounds: ROUNDS, reportInterval: "5m", keepAlive: "60s", stackSlots: 1536 },
      machine: { cores: os.cpus().length, loadAverage1m: os.loadavg()[0], node: process.version },
      "node ms per device-hour": n,
      "xs ms per device-hour": x,
      "xs / node (medians)": x.median / n.median,
      "xs per device-hour": {
        deliveries: last!.cost.deliveries / deviceHours,
        portCalls: last!.cost.portCalls / deviceHours,
        computrons: last!.cost.computrons / deviceHours,
      },
      "same trace hash": true,
    };
  } finally {
    xs.close();
  }
};

// The agent's default keep-alive (device/core/link/default-keepalive.ts) against the old fixed
// 60 s, in the same run: a fleet group with no keepAlive (the agent derives 120 s from its 60 s
// reports) and one with keepAlive "60s" (what every device asked for before). Counted at the
// virtual broker as the devices' bytes arrive: packets by type per telemetry message, and the
// simulated battery charge each device drew (host-sim/battery/power.ts charges every socket
// write a TX burst). Counts are deterministic, so the rounds must agree; CPU time is a side note
// (bench/results/fleet-keepalive-default.json is the A/B of host CPU per message).
//   npm run bench -- keepalive
import os from "node:os";
import { nodeSha256 } from "../device/platform/node/sha256";
import { VirtualFleet } from "../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { validateScenario } from "../host-sim/fleet/scenario";
import { spread } from "./lib/measure";

const ROUNDS = 5;
/** Packet counts: the 100 devices × 2 h of the finding. */
const PACKETS = { devices: 100, hours: 2 };
/** Battery: a simulated day, so the per-day figure needs no scaling. */
const BATTERY = { devices: 20, hours: 24 };
const UA_MS_PER_MAH = 3_600_000 * 1000;

const CASES = [
  { name: "default keep-alive (120 s from 60 s reports)", group: {} },
  { name: 'keepAlive "60s" (the old default)', group: { keepAlive: "60s" } },
];

async function once(group: object, size: { devices: number; hours: number }) {
  const scenario = validateScenario({ drain: "0s", groups: [{ telemetry: { reportInterval: "60s" }, ...group }] });
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const fleet = new VirtualFleet({ devices: size.devices, durationMs: size.hours * 3_600_000, seed: 1, scenario, library, sha256: nodeSha256 });
  const byType: Record<string, number> = {};
  const onPacket = fleet.broker.onPacket.bind(fleet.broker);
  fleet.broker.onPacket = (conn, p) => {
    byType[p.type] = (byType[p.type] ?? 0) + 1;
    onPacket(conn, p);
  };
  const cpu0 = process.cpuUsage();
  const s = fleet.run();
  const cpu = process.cpuUsage(cpu0);
  const drawnMah = fleet.devices.reduce((sum, d) => sum + d.battery.drawnUaMs, 0) / UA_MS_PER_MAH / size.devices;
  return { messages: s.telemetry.published, lost: s.telemetry.lost, byType, drawnMah, cpuSeconds: (cpu.user + cpu.system) / 1e6, traceHash: s.traceHash };
}

export default async function () {
  const results: Record<string, unknown> = {};
  const runs: Record<string, { packets: Awaited<ReturnType<typeof once>>[]; battery: Awaited<ReturnType<typeof once>>[] }> = {};
  for (const c of CASES) runs[c.name] = { packets: [], battery: [] };
  // Warm-up round first, then the cases interleaved round by round.
  for (let r = 0; r <= ROUNDS; r++) {
    for (const c of CASES) {
      const p = await once(c.group, PACKETS);
      const b = await once(c.group, BATTERY);
      if (r === 0) continue;
      runs[c.name].packets.push(p);
      runs[c.name].battery.push(b);
    }
  }
  for (const c of CASES) {
    const { packets, battery } = runs[c.name];
    const p = packets[0];
    const pings = p.byType.pingreq ?? 0;
    const publishes = p.byType.publish ?? 0;
    results[c.name] = {
      telemetryMessages: p.messages,
      lost: p.lost,
      deviceToBrokerPackets: p.byType,
      pingreqPerMessage: Number((pings / p.messages).toFixed(3)),
      // Each PUBLISH gets a PUBACK and each PINGREQ a PINGRESP (no broker faults here).
      packetsPerMessageBothWays: Number(((2 * (publishes + pings)) / p.messages).toFixed(3)),
      sameCountsEveryRound: packets.every((x) => JSON.stringify(x.byType) === JSON.stringify(p.byType)) && new Set(packets.map((x) => x.traceHash)).size === 1,
      traceHash: p.traceHash,
      batteryMahPerDeviceDay: Number(battery[0].drawnMah.toFixed(2)),
      batterySameEveryRound: new Set(battery.map((x) => x.drawnMah)).size === 1,
      cpuSecondsPacketRun: spread(packets.map((x) => x.cpuSeconds), 2),
    };
  }
  return {
    parameters: { packets: PACKETS, battery: BATTERY, reportIntervalSeconds: 60, seed: 1, rounds: ROUNDS, warmupRounds: 1, cores: os.cpus().length, node: process.version },
    cases: results,
  };
}

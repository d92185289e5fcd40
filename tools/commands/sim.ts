/**
 * `tether sim`: a virtual fleet of real agents, fast-forwarded under one virtual clock
 * (--broker virtual). Progress on a terminal, a summary table at the end, --json for machines.
 * A failing check prints the seed and the command that replays the run.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { checkScenarioFits, parseDuration, parseScenario, defaultScenario, formatDuration, type Scenario } from "../../host-sim/fleet/scenario";
import { progressLine, summaryTable } from "../../host-sim/fleet/report";
import { runRealtime, runSimulation } from "../../host-sim/fleet/run";
import { reportHtml, simulateForReport } from "../../host-sim/fleet/sim-report";
import type { FleetSummary } from "../../host-sim/fleet/metrics";
import { startEmbeddedBroker } from "../../host-sim/brokers/embedded";
import { refusePasswordInUrl } from "../connect-flags";
import type { FleetProgress } from "../../host-sim/fleet/engine";
import { intFlag, parseFlags, UsageError } from "../args";

const HELP = `usage: tether sim [--devices N] [--duration 7d] [--seed S] [--scenario FILE]
                 [--broker virtual|embedded|mqtt://host:port] [--shards K | --shard i/K] [--xs N] [--json FILE]

  --devices N      virtual devices (default: the scenario's, else 100)
  --duration D     simulated time: 90s, 15m, 36h, 7d (default: the scenario's, else 1d)
  --seed S         run seed, 0..2^32-1 (default: the scenario's, else 1); same seed, same run
  --scenario FILE  JSON scenario: device groups, faults, OTA offers (docs/fleet.md)
  --broker B       virtual (default): everything under one virtual clock, as fast as the CPU goes;
                   embedded: aedes in this process, in real time; mqtt://host:port: any broker in
                   real time (repeat or comma-separate URLs for a cluster: devices fail over)
  --shards K       split the devices over K worker threads
  --shard i/K      run only shard i of K (spread one fleet over machines)
  --xs N           run N of the devices (spread evenly) inside real XS engines with the ESP32's
                   stack and only Moddable's globals, in lockstep with the others (default: the
                   scenario's xsDevices, else 0); the same seed gives the same trace hash
  --json FILE      write the machine-readable summary to FILE ("-" for stdout)
  --report FILE    run the fleet service (health rules, and the scenario's rollouts) inside the
                   simulation and write a self-contained HTML report: telemetry, reconnects,
                   batteries, OTA, rollout outcomes and halts, alerts against the simulated truth
  --quiet          no progress line
`;

const DEFAULT_DEVICES = 100;
const DEFAULT_DURATION_MS = 86_400_000;

export async function runSim(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    devices: { type: "string" },
    duration: { type: "string" },
    seed: { type: "string" },
    scenario: { type: "string" },
    broker: { type: "string", multiple: true },
    shards: { type: "string" },
    shard: { type: "string" },
    xs: { type: "string" },
    json: { type: "string" },
    report: { type: "string" },
    quiet: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const brokerArgs = (values.broker ?? ["virtual"]).flatMap((b) => b.split(",")).filter((b) => b.length > 0);
  const realtime = !(brokerArgs.length === 1 && brokerArgs[0] === "virtual");
  if (realtime) {
    for (const b of brokerArgs) {
      if (b === "virtual") throw new UsageError("--broker virtual cannot be combined with real brokers");
      if (b !== "embedded") {
        // The URL is in argv (ps), the replay command and the summary: no password in it.
        refusePasswordInUrl(b);
      }
    }
    if (brokerArgs.includes("embedded") && brokerArgs.length > 1) throw new UsageError("--broker embedded runs its own broker; give it alone");
  }
  let scenario: Scenario;
  if (values.scenario !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.scenario, "utf8");
    } catch (e) {
      throw new UsageError(`--scenario ${values.scenario}: ${(e as Error).message}`);
    }
    scenario = parseScenario(text, values.scenario);
  } else scenario = defaultScenario();

  const devices = intFlag(values.devices, "devices", scenario.devices ?? DEFAULT_DEVICES, 1);
  let durationMs = scenario.durationMs ?? DEFAULT_DURATION_MS;
  if (values.duration !== undefined) {
    const d = parseDuration(values.duration);
    if (d === undefined || d === 0) throw new UsageError(`--duration must look like 90s, 15m, 36h or 7d, got "${values.duration}"`);
    durationMs = d;
  }
  // --devices/--duration may shrink the run under the scenario's faults and offers.
  checkScenarioFits(scenario, devices, durationMs);
  const xsDevices = intFlag(values.xs, "xs", scenario.xsDevices ?? 0, 0);
  if (xsDevices > devices) throw new UsageError(`--xs ${xsDevices}: more devices in XS than the fleet has (${devices})`);
  if (xsDevices > 0 && realtime) throw new UsageError("--xs needs --broker virtual (XS devices run in lockstep with the virtual clock)");
  const seed = intFlag(values.seed, "seed", scenario.seed ?? 1, 0);
  if (seed > 0xffffffff) throw new UsageError("--seed must be at most 4294967295");
  const shards = intFlag(values.shards, "shards", 1, 1);
  let onlyShard: { index: number; count: number } | undefined;
  if (values.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(values.shard);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard must be i/K with 0 ≤ i < K, got "${values.shard}"`);
    onlyShard = { index: Number(m[1]), count: Number(m[2]) };
  }

  const tty = process.stderr.isTTY === true && !values.quiet;
  let lastDraw = 0;
  let lastDelivered = 0;
  let lastAt = performance.now();
  let rate = 0;
  const onProgress = (p: FleetProgress) => {
    if (!tty) return;
    const now = performance.now();
    if (now - lastDraw < 100 && p.simMs < p.endMs) return;
    if (now > lastAt) rate = ((p.delivered - lastDelivered) * 1000) / (now - lastAt);
    lastDelivered = p.delivered;
    lastAt = now;
    lastDraw = now;
    process.stderr.write(`\r${progressLine(p, rate)}\x1b[K`);
  };

  let summary: FleetSummary;
  if (values.report !== undefined) {
    if (realtime || shards > 1 || onlyShard) throw new UsageError("--report runs the virtual broker in one thread: drop --broker, --shards and --shard");
    if (xsDevices > 0) throw new UsageError("--report runs every device on Node: drop --xs");
    const replay = `tether sim --devices ${devices} --duration ${formatDuration(durationMs)} --seed ${seed}${values.scenario ? ` --scenario ${values.scenario}` : ""} --report ${values.report}`;
    const o = { devices, durationMs, seed, scenario, replay };
    const { report, wallSeconds } = await simulateForReport(o);
    summary = { ...report.summary, rollouts: report.rollouts };
    writeFileSync(values.report, await reportHtml(report, wallSeconds, o));
    process.stderr.write(`tether sim: report written to ${values.report}\n`);
  } else if (!realtime) {
    summary = await runSimulation({ devices, durationMs, seed, scenario, shards, onlyShard, xsDevices, progressEveryMs: tty ? 10 * 60_000 : undefined }, onProgress);
  } else {
    if (scenario.faults.length > 0 || scenario.ota.length > 0) {
      process.stderr.write("tether sim: real time ignores the scenario's faults and OTA offers (they need the virtual network); groups apply\n");
    }
    const embedded = brokerArgs[0] === "embedded" ? await startEmbeddedBroker() : undefined;
    try {
      const brokers = embedded ? [embedded.url] : brokerArgs;
      summary = await runRealtime({ devices, durationMs, seed, scenario, shards, onlyShard, brokers }, onProgress);
      if (embedded) summary.broker = `embedded (${embedded.url})`;
    } finally {
      await embedded?.close();
    }
  }
  if (tty) process.stderr.write("\n");
  const replay = [
    "tether sim",
    `--devices ${devices}`,
    `--duration ${formatDuration(durationMs)}`,
    `--seed ${seed}`,
    ...(values.scenario ? [`--scenario ${values.scenario}`] : []),
    ...(realtime ? [`--broker ${brokerArgs.join(",")}`] : []),
    ...(shards > 1 ? [`--shards ${shards}`] : []),
    ...(values.xs !== undefined ? [`--xs ${xsDevices}`] : []),
    ...(onlyShard ? [`--shard ${onlyShard.index}/${onlyShard.count}`] : []),
  ].join(" ");
  if (values.json === "-") process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else {
    process.stdout.write(summaryTable(summary) + "\n");
    for (const r of (summary.rollouts ?? []) as Record<string, any>[]) {
      const halt = r.haltRule ? `, halted by ${r.haltRule} after ${formatDuration(r.haltAfterMs)}` : "";
      process.stdout.write(`rollout ${r.id ?? "-"} ${r.bundle}: ${r.error ?? r.status}${halt}; offered to ${r.offered ?? 0} devices, ${r.devicesRan ?? 0} ran it; ${JSON.stringify(r.counts?.byState ?? {})}\n`);
    }
    if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ ...summary, replay }, null, 2) + "\n");
  }
  const failed = summary.checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    process.stderr.write(`tether sim: ${failed.length} check(s) failed (seed ${seed}); replay with:\n  ${replay}\n`);
    return 1;
  }
  return 0;
}

/**
 * Text for people: the progress line shown on a terminal during a run and the summary table
 * at the end. Pure string functions (the CLI decides where they go). Node-free.
 */
import type { FleetProgress } from "./engine";
import type { FleetSummary } from "./metrics";

const BAR_WIDTH = 24;

/** "2d 03:15" style simulated time. */
export function simTime(ms: number): string {
  const totalMin = Math.floor(ms / 60_000);
  const d = Math.floor(totalMin / 1440);
  const h = Math.floor((totalMin % 1440) / 60);
  const m = totalMin % 60;
  return `${d}d ${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

const group3 = (n: number) => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** One progress line: bar, simulated time, devices online, messages per wall second. */
export function progressLine(p: FleetProgress, msgsPerSec: number): string {
  const done = p.endMs > 0 ? Math.min(1, p.simMs / p.endMs) : 1;
  const fill = Math.round(done * BAR_WIDTH);
  const bar = "#".repeat(fill) + ".".repeat(BAR_WIDTH - fill);
  return `[${bar}] ${simTime(p.simMs)} / ${simTime(p.endMs)}  online ${group3(p.online)}/${group3(p.devices)}  ${group3(msgsPerSec)} msg/s`;
}

/** The end-of-run table. */
export function summaryTable(s: FleetSummary): string {
  const rows: [string, string][] = [
    ["devices", group3(s.devices) + (s.shards > 1 ? ` (${s.shards} shards)` : "")],
    ["broker", s.broker],
    ["seed", String(s.seed)],
    ["simulated", `${simTime(s.simulatedSeconds * 1000)} (${group3(s.simulatedSeconds)} s)`],
    ["wall", `${s.wallSeconds.toFixed(1)} s (${group3(s.deviceHoursPerWallSecond)} device-hours/s)`],
    ["telemetry published", group3(s.telemetry.published)],
    ["  delivered", group3(s.telemetry.delivered)],
    ["  lost", group3(s.telemetry.lost)],
    ["  duplicates", group3(s.telemetry.duplicates)],
    ["  queue overflow drops", group3(s.telemetry.queueDropped)],
    ["  stranded on dead devices", group3(s.telemetry.stranded)],
    ["reconnects", `${group3(s.reconnects)} (peak ${group3(s.peakReconnectsPerSecond)}/s)`],
    ["OTA offered", group3(s.ota.offered)],
    ["  updated / rolled back", `${group3(s.ota.updated)} / ${group3(s.ota.rolledBack)}`],
    ["  deferred / failed / bricked", `${group3(s.ota.deferred)} / ${group3(s.ota.failed)} / ${group3(s.ota.bricked)}`],
    ["battery alerts", `${group3(s.battery.alerts)} (backend saw ${group3(s.battery.alertsSeenByBackend)}, crossed ${group3(s.battery.crossedThreshold)})`],
    ["dead batteries", group3(s.battery.dead)],
    ["power cuts / crashes (watchdog)", `${group3(s.faults.powerCuts)} / ${group3(s.faults.crashes)} (${group3(s.faults.watchdogResets)})`],
    ["link flaps", group3(s.faults.linkFlaps)],
    ["broker outages / restarts", `${group3(s.faults.brokerOutages)} / ${group3(s.faults.brokerRestarts)}`],
    ["online at end", group3(s.onlineAtEnd)],
    ...(s.xs ? [["in XS (ESP32 stack, Moddable globals)", `${group3(s.xs.devices)} devices, ${group3(s.xs.boots)} boots, ${group3(s.xs.computrons)} computrons`] as [string, string]] : []),
    ["trace hash", s.traceHash],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  lines.push("", "checks:");
  for (const c of s.checks) lines.push(`  ${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.detail}`);
  return lines.join("\n");
}

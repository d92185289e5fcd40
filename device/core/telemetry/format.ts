/**
 * A human rendering of a decoded telemetry batch, for the CLI (`tether device`) and logs.
 * Integer arithmetic only: the output is identical on XS and Node.
 */
import { BATTERY_STATUS, type BatteryReport, type TelemetryBatch, type TelemetrySample } from "./record";

const STATUS_NAMES: Record<number, string> = {
  [BATTERY_STATUS.normal]: "normal",
  [BATTERY_STATUS.charging]: "charging",
  [BATTERY_STATUS.chargeComplete]: "charge complete",
  [BATTERY_STATUS.damaged]: "damaged",
  [BATTERY_STATUS.low]: "low",
  [BATTERY_STATUS.notInstalled]: "not installed",
  [BATTERY_STATUS.unknown]: "unknown",
};

function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = "0" + s;
  return s;
}

/** A scaled integer as a decimal: fixed(2153, 2) → "21.53", fixed(-5, 2) → "-0.05". */
export function fixed(value: number, decimals: number): string {
  const neg = value < 0;
  const abs = neg ? -value : value;
  let div = 1;
  for (let i = 0; i < decimals; i++) div *= 10;
  const whole = Math.floor(abs / div);
  const frac = abs - whole * div;
  return (neg ? "-" : "") + String(whole) + (decimals > 0 ? "." + pad(frac, decimals) : "");
}

/** Days from the civil calendar (Howard Hinnant's algorithm), integers only. */
function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** Unix ms → "2026-11-26T05:30:00.000Z" without Date (identical on every engine). */
export function isoFromUnixMs(ms: number): string {
  const days = Math.floor(ms / 86400000);
  let rest = ms - days * 86400000;
  const [y, mo, d] = civilFromDays(days);
  const h = Math.floor(rest / 3600000);
  rest -= h * 3600000;
  const mi = Math.floor(rest / 60000);
  rest -= mi * 60000;
  const s = Math.floor(rest / 1000);
  return `${y}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(rest - s * 1000, 3)}Z`;
}

/** Milliseconds as "1d02h03m04s" (uptime style). */
export function duration(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return (d > 0 ? `${d}d` : "") + `${pad(h, 2)}h${pad(m, 2)}m${pad(s, 2)}s`;
}

function timeText(b: TelemetryBatch, tMs: number): string {
  return b.timeBase === "wall" ? isoFromUnixMs(tMs) : `+${duration(tMs)} (uptime, clock not synced)`;
}

export function formatBattery(x: BatteryReport): string {
  let s = `${fixed(x.mv, 3)} V ${x.pct}% ${STATUS_NAMES[x.status] ?? `status ${x.status}`}`;
  if (x.alarm !== undefined && x.alarm !== "none") s += ` ALARM ${x.alarm}`;
  if (x.dropBpPerHour !== undefined) s += `, -${fixed(x.dropBpPerHour, 2)} %/h`;
  if (x.timeToEmptyMin !== undefined) s += `, empty in ${duration(x.timeToEmptyMin * 60000)}`;
  return s;
}

function formatSample(b: TelemetryBatch, s: TelemetrySample): string {
  const parts = [b.timeBase === "wall" ? isoFromUnixMs(s.tMs).slice(11, 19) : `+${duration(s.tMs)}`];
  if (s.temperatureCentiC !== undefined) parts.push(`${fixed(s.temperatureCentiC, 2)} °C`);
  if (s.humidityPermille !== undefined) parts.push(`${fixed(s.humidityPermille, 1)} %RH`);
  if (s.rssiDbm !== undefined) parts.push(`${s.rssiDbm} dBm`);
  return parts.join("  ");
}

/** A multi-line, human-readable rendering of one decoded batch. */
export function formatTelemetry(b: TelemetryBatch): string {
  const lines = [
    `${b.deviceId} #${b.seq} at ${timeText(b, b.madeAtMs)}  fw ${b.firmware} slot ${b.slot}  reset: ${b.resetReason}  up ${duration(b.uptimeMs)}`,
  ];
  if (b.battery) lines.push(`  battery  ${formatBattery(b.battery)}`);
  if (b.link) {
    let l = `  link     ${b.link.state}, ${b.link.reconnects} reconnects`;
    if (b.link.queued !== undefined) l += `, ${b.link.queued} queued`;
    if (b.link.dropped !== undefined) l += `, ${b.link.dropped} dropped`;
    if (b.link.oversized) l += `, ${b.link.oversized} oversized skipped`;
    lines.push(l);
  }
  if (b.memory) {
    const m = b.memory;
    lines.push(`  memory   slots ${m.slotsUsed} used, ${m.slotsFree} free; chunks ${m.chunkBytesUsed} bytes used, ${m.chunkBytesFree} free`);
  }
  if (b.reportIntervalSec !== undefined) lines.push(`  reports  every ${duration(b.reportIntervalSec * 1000)}`);
  lines.push(`  samples  ${b.samples.length}${b.samplesDropped ? ` (${b.samplesDropped} lost to overflow)` : ""}`);
  for (const s of b.samples) lines.push(`    ${formatSample(b, s)}`);
  return lines.join("\n");
}

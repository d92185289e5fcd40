// Battery + telemetry on XS and on Node: a simulated battery life (virtual time), the
// alarms, brown-out, every batch digested, and a decoded batch rendered for humans.
// The trace must be byte-identical between the engines.
import type { ScenarioHost } from "../scenario-host";
import { runBattery } from "../../../host-sim/battery/battery-run";
import { decodeTelemetryBatch, encodeTelemetryBatch } from "../../../device/core/telemetry/record";
import { formatTelemetry } from "../../../device/core/telemetry/format";
import { acceptConfigMessage, encodeConfigRequest } from "../../../device/core/config/telemetry-config";
import { adcToMillivolts, socBpFromMillivolts } from "../../../device/core/battery/soc";

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

export function run(host: ScenarioHost): void {
  for (const raw of [0, 1, 2047, 2500, 4095]) {
    const mv = adcToMillivolts(raw, 12, 6600);
    host.emit(`adc ${raw} -> ${mv} mV -> ${socBpFromMillivolts(mv)} bp`);
  }
  const r = runBattery({
    seed: 4242,
    telemetry: { sampleIntervalMs: 300_000, reportIntervalMs: 900_000 },
    maxMs: 14 * 86_400_000,
    wallSyncAfterMs: 45_000,
    outageEveryMs: 86_400_000,
    outageMaxMs: 3_600_000,
    reconnect: "backoff",
    emit: (l) => host.emit(l),
    digestEvery: 100,
  });
  host.emit(`alarms ${r.alarms.map((a) => `${a.alarm}@${a.t}`).join(",")} brownout@${r.brownoutAt} midlife=${r.midlife?.t}/${r.midlife?.timeToEmptyMin}`);
  const last = r.savedBatches[r.savedBatches.length - 1];
  host.emit(`saved ${r.savedBatches.length} ${hex(last)}`);
  const decoded = decodeTelemetryBatch(last);
  for (const line of formatTelemetry(decoded).split("\n")) host.emit(line);
  host.emit(`re-encoded equal: ${hex(encodeTelemetryBatch(decoded)) === hex(last)}`);
  const cfg = acceptConfigMessage({ sampleIntervalMs: 60_000, reportIntervalMs: 300_000 }, encodeConfigRequest({ requestId: 5, reportIntervalSec: 30, sampleIntervalSec: 60 }), undefined);
  host.emit(`config ${hex(cfg.reply)}`);
}

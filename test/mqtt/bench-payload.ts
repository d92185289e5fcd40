/** A realistic telemetry PUBLISH payload for the MQTT benches: a real CBOR batch of 5 samples. */
import { encodeTelemetryBatch, type TelemetryBatch } from "../../device/core/telemetry/record";

export const BENCH_TOPIC = "tether/bench-0001/telemetry";

export function telemetryPayload(seq: number): Uint8Array {
  const t0 = 1_764_000_000_000 + seq * 300_000;
  const batch: TelemetryBatch = {
    deviceId: "bench-0001",
    seq,
    firmware: "1.4.2",
    slot: 0,
    resetReason: "power-on",
    timeBase: "wall",
    madeAtMs: t0,
    uptimeMs: 86_400_000 + seq * 300_000,
    link: { state: "online", reconnects: 2, queued: 0, dropped: 0 },
    battery: { mv: 3712, pct: 64, status: 0 },
    samples: [0, 1, 2, 3, 4].map((i) => ({ tMs: t0 - (4 - i) * 60_000, temperatureCentiC: 2150 + i, humidityPermille: 455 - i, rssiDbm: -67 })),
  };
  return encodeTelemetryBatch(batch);
}

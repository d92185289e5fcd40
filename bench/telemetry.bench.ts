// Telemetry benchmarks:
// 1. payload size of our CBOR batch vs JSON vs SenML (RFC 8428) renderings of the same samples;
// 2. XS computrons per telemetry cycle (battery read, sensor sample, batch build, CBOR encode,
//    MQTT QoS 1 PUBLISH framing), plus Node throughput of the encode.
import { Encoder, FLOAT32_OPTIONS } from "cbor-x";
import { encodeTelemetryBatch, type TelemetryBatch } from "../device/core/telemetry/record";
import { opsPerSecond, xsComputrons } from "./lib/measure";
import { telemetryCycle } from "./lib/telemetry-cycle";

const T0 = 1_795_000_000_000;

function batch(n: number): TelemetryBatch {
  return {
    deviceId: "dev-0001",
    seq: 1234,
    firmware: "1.4.2",
    slot: 1,
    resetReason: "power-on",
    timeBase: "wall",
    madeAtMs: T0 + n * 60_000,
    uptimeMs: 86_400_000,
    link: { state: "online", reconnects: 3, queued: 0, dropped: 0 },
    battery: { mv: 3912, pct: 70, status: 0, alarm: "none", dropBpPerHour: 61, timeToEmptyMin: 5432 },
    samples: Array.from({ length: n }, (_, i) => ({
      tMs: T0 + i * 60_000,
      temperatureCentiC: 2153 + ((i * 7) % 40) - 20,
      humidityPermille: 456 + (i % 9),
      rssiDbm: -67 - (i % 5),
    })),
  };
}

/** The same content as JSON with readable names and natural units (what a web API would send). */
function asJson(b: TelemetryBatch): string {
  return JSON.stringify({
    deviceId: b.deviceId,
    seq: b.seq,
    firmware: b.firmware,
    slot: b.slot,
    resetReason: b.resetReason,
    time: b.madeAtMs,
    uptime: b.uptimeMs / 1000,
    link: b.link,
    battery: { voltage: b.battery!.mv / 1000, level: b.battery!.pct, status: b.battery!.status, alarm: b.battery!.alarm, dropPerHour: b.battery!.dropBpPerHour! / 100, timeToEmptyMin: b.battery!.timeToEmptyMin },
    samples: b.samples.map((s) => ({ t: s.tMs, temperature: s.temperatureCentiC! / 100, humidity: s.humidityPermille! / 10, rssi: s.rssiDbm })),
  });
}

// SenML labels (RFC 8428 §6): bn -2, bt -3, n 0, u 1, v 2, vs 3, t 6.
type SenmlRecord = { bn?: string; bt?: number; n: string; u?: string; v?: number; vs?: string; t?: number };
function asSenml(b: TelemetryBatch): SenmlRecord[] {
  const bt = b.samples[0].tMs / 1000;
  const recs: SenmlRecord[] = [
    { bn: `urn:dev:id:${b.deviceId}:`, bt, n: "seq", v: b.seq },
    { n: "fw", vs: b.firmware },
    { n: "slot", v: b.slot },
    { n: "reset", vs: b.resetReason },
    { n: "uptime", u: "s", v: b.uptimeMs / 1000 },
    { n: "link", vs: b.link!.state },
    { n: "reconnects", v: b.link!.reconnects },
    { n: "battery", u: "V", v: b.battery!.mv / 1000 },
    { n: "batteryLevel", u: "%EL", v: b.battery!.pct },
    { n: "batteryStatus", v: b.battery!.status },
    { n: "batteryDrop", u: "%EL/h", v: b.battery!.dropBpPerHour! / 100 },
    { n: "batteryTte", u: "s", v: b.battery!.timeToEmptyMin! * 60 },
  ];
  for (const s of b.samples) {
    const t = s.tMs / 1000 - bt;
    recs.push({ n: "temperature", u: "Cel", v: s.temperatureCentiC! / 100, t });
    recs.push({ n: "humidity", u: "%RH", v: s.humidityPermille! / 10, t });
    recs.push({ n: "rssi", u: "dBm", v: s.rssiDbm, t });
  }
  return recs;
}
const LABEL: Record<string, number> = { bn: -2, bt: -3, n: 0, u: 1, v: 2, vs: 3, t: 6 };
function senmlCbor(recs: SenmlRecord[], float32: boolean): Uint8Array {
  const enc = new Encoder({
    useRecords: false,
    mapsAsObjects: false,
    useTag259ForMaps: false,
    ...(float32 ? { useFloat32: FLOAT32_OPTIONS.DECIMAL_FIT } : {}),
  } as ConstructorParameters<typeof Encoder>[0]);
  return enc.encode(recs.map((r) => new Map(Object.entries(r).filter(([k, v]) => v !== undefined && !(k === "t" && v === 0)).map(([k, v]) => [LABEL[k], v]))));
}

export default async () => {
  const sizes: Record<string, Record<string, number>> = {};
  for (const n of [1, 5, 15, 60]) {
    const b = batch(n);
    const senml = asSenml(b);
    sizes[`${n} samples`] = {
      tetherCbor: encodeTelemetryBatch(b, 1 << 20).length,
      json: new TextEncoder().encode(asJson(b)).length,
      senmlJson: new TextEncoder().encode(JSON.stringify(senml)).length,
      senmlCborFloat64: senmlCbor(senml, false).length,
      senmlCborFloat32: senmlCbor(senml, true).length,
    };
  }
  const table = ["| samples | Tether CBOR | JSON | SenML-JSON | SenML-CBOR (f64) | SenML-CBOR (f32 decimal-fit) |", "|---|---|---|---|---|---|"];
  for (const [k, v] of Object.entries(sizes)) {
    table.push(`| ${k.split(" ")[0]} | ${v.tetherCbor} | ${v.json} (${(v.json / v.tetherCbor).toFixed(1)}×) | ${v.senmlJson} (${(v.senmlJson / v.tetherCbor).toFixed(1)}×) | ${v.senmlCborFloat64} (${(v.senmlCborFloat64 / v.tetherCbor).toFixed(1)}×) | ${v.senmlCborFloat32} (${(v.senmlCborFloat32 / v.tetherCbor).toFixed(1)}×) |`);
  }

  const xs = await xsComputrons(new URL("../test/xs/scenarios/telemetry-cycle.scenario.ts", import.meta.url));
  const b5 = batch(5);
  const node = await opsPerSecond(() => encodeTelemetryBatch(b5), { minMs: 1000 });
  return {
    payloadBytes: sizes,
    payloadTable: table.join("\n"),
    xsComputronsPerCycle: xs.metrics,
    nodeEncode5SamplesOpsPerSec: Math.round(node.opsPerSec),
    // The issue-2 cycle on Node: read the battery, sample, build + CBOR-encode a 1-sample batch, frame it.
    nodeCycle1SampleOpsPerSec: Math.round((await opsPerSecond(telemetryCycle(1).cycle, { minMs: 1000 })).opsPerSec),
  };
};

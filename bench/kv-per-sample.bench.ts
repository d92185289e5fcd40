// Key-value (NVS) writes per telemetry sample and per batch, through the real agent (the
// firmware build a fleet device boots from its flash), counted at each device's KV write hook
// (every set and delete, the points a power cut can hit). Samples are batched by the agent: with
// a 10 s sample interval and a 60 s report, one outbox record (one write, one delete) carries six
// samples. Cases: one sample per batch, six per batch, and six per batch with a 10-minute broker
// outage (batches wait in the outbox). Counts, not timings: deterministic, so the rounds agree.
// Every batch is counted (the drain period's too); a device's last batch may still wait for its
// PUBACK at the end (its delete not yet done), so per-batch figures sit a hair under 2.
//   npm run bench -- kv-per-sample
import os from "node:os";
import { nodeSha256 } from "../device/platform/node/sha256";
import { decodeTelemetryBatch } from "../device/core/telemetry/record";
import { VirtualFleet } from "../host-sim/fleet/engine";
import { buildFirmwareLibrary, firmwareRequests } from "../host-sim/fleet/images";
import { validateScenario } from "../host-sim/fleet/scenario";
import { spread } from "./lib/measure";

const DEVICES = 20;
const HOURS = 6;
const ROUNDS = 5;

const CASES = [
  { name: "one sample per batch (sample = report = 60 s)", telemetry: { reportInterval: "60s", sampleInterval: "60s" }, faults: [] },
  { name: "six samples per batch (sample 10 s, report 60 s)", telemetry: { reportInterval: "60s", sampleInterval: "10s" }, faults: [] },
  {
    name: "six samples per batch, 10-minute broker outage at 3 h",
    telemetry: { reportInterval: "60s", sampleInterval: "10s" },
    faults: [{ kind: "broker-outage", at: "3h", for: "10m" }],
  },
];

async function once(c: (typeof CASES)[number]) {
  const scenario = validateScenario({ drain: "30m", groups: [{ telemetry: c.telemetry }], faults: c.faults });
  const library = await buildFirmwareLibrary(firmwareRequests(scenario), nodeSha256);
  const fleet = new VirtualFleet({ devices: DEVICES, durationMs: HOURS * 3_600_000, seed: 1, scenario, library, sha256: nodeSha256 });
  let outbox = 0;
  let other = 0;
  for (const dev of fleet.devices) {
    const inner = dev.kv.beforeWrite;
    dev.kv.beforeWrite = (kind, key, length) => {
      if (key.startsWith("ob")) outbox++;
      else other++;
      inner?.(kind, key, length);
    };
  }
  // Samples delivered, each batch counted once (a resend after a reconnect is a duplicate).
  // Batches are counted here too: the summary's "published" leaves out the drain period's.
  let samples = 0;
  const seen = new Set<string>();
  fleet.broker.subscribeInternal("tether/+/telemetry", (topic, payload) => {
    const b = decodeTelemetryBatch(payload);
    const key = `${topic} ${b.seq}`;
    if (seen.has(key)) return;
    seen.add(key);
    samples += b.samples.length;
  });
  const s = fleet.run();
  return { batches: seen.size, lost: s.telemetry.lost, brokerOutages: s.faults.brokerOutages, reconnects: s.reconnects, samples, outboxWrites: outbox, otherWrites: other, traceHash: s.traceHash };
}

export default async function () {
  const results: Record<string, unknown> = {};
  for (const c of CASES) {
    await once(c); // warm-up
    const runs = [];
    for (let r = 0; r < ROUNDS; r++) runs.push(await once(c));
    const r0 = runs[0];
    results[c.name] = {
      batchesDelivered: r0.batches,
      lost: r0.lost,
      brokerOutages: r0.brokerOutages,
      reconnects: r0.reconnects,
      samplesDelivered: r0.samples,
      outboxWrites: r0.outboxWrites,
      otherWrites: r0.otherWrites,
      outboxWritesPerBatch: spread(runs.map((r) => r.outboxWrites / r.batches), 3),
      allWritesPerBatch: spread(runs.map((r) => (r.outboxWrites + r.otherWrites) / r.batches), 3),
      allWritesPerSample: spread(runs.map((r) => (r.outboxWrites + r.otherWrites) / r.samples), 3),
      outboxWritesPerSample: spread(runs.map((r) => r.outboxWrites / r.samples), 3),
      sameTraceHashEveryRound: new Set(runs.map((r) => r.traceHash)).size === 1,
    };
  }
  return {
    parameters: { devices: DEVICES, simulatedHours: HOURS, seed: 1, rounds: ROUNDS, warmupRounds: 1, cores: os.cpus().length, node: process.version },
    cases: results,
  };
}

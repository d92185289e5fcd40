/**
 * Key-value (NVS) writes per telemetry record on the device, counted at the KV port by
 * bench/lib/kv-writes.ts through the real Link on the virtual broker: steady online, and with a
 * broker outage in the middle (records wait, then drain). Counts, not timings: deterministic,
 * so the 5 rounds after the warm-up must agree (min = median = max). `before` is what the same
 * script gave on the build before the outbox (offline queue + persistent in-flight store),
 * measured in the same session from a checkout of that commit: see `before.how`.
 * `npm run bench -- outbox` writes bench/results/outbox.json.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { kvWritesPerRecord, type KvWriteCase } from "./lib/kv-writes";

const CASES: KvWriteCase[] = [
  { name: "steady online, one record / 10 s", records: 360, periodMs: 10_000, outageMs: 0 },
  { name: "4-minute broker outage mid-run (24 records wait)", records: 360, periodMs: 10_000, outageMs: 240_000 },
];
const ROUNDS = 5;

function commit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

export function measure() {
  const out: Record<string, unknown> = {};
  for (const c of CASES) {
    kvWritesPerRecord(c); // warm-up
    const per: number[] = [];
    let last: ReturnType<typeof kvWritesPerRecord> | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      last = kvWritesPerRecord(c);
      per.push(last.perRecord);
    }
    per.sort((a, b) => a - b);
    out[c.name] = { ...c, delivered: last!.delivered, dropped: last!.dropped, writes: last!.writes, writesPerRecord: { min: per[0], median: per[ROUNDS >> 1], max: per[ROUNDS - 1] } };
  }
  return out;
}

export default async () => {
  const before = process.env.OUTBOX_BEFORE_JSON ? JSON.parse(fs.readFileSync(process.env.OUTBOX_BEFORE_JSON, "utf8")) : undefined;
  return {
    parameters: { rounds: ROUNDS, commit: commit(), cores: os.cpus().length, node: process.version },
    after: measure(),
    ...(before ? { before } : {}),
  };
};

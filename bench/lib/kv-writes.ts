/**
 * Key-value writes per telemetry record through the real Link on the virtual broker, counted
 * at the KV port (every set and delete is one NVS write). Uses only the Link's public API
 * (send, stats) and the virtual world, so the same file measures any build of the link:
 * bench/outbox.bench.ts runs it on this tree and records what the build before the outbox gave.
 */
import { Link } from "../../device/core/link/link";
import type { KeyValueStore } from "../../device/ports";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { SeededRandom } from "../../host-sim/virtual/random";

class Counting implements KeyValueStore {
  writes = 0;
  constructor(readonly inner: KeyValueStore) {}
  get = (k: string) => this.inner.get(k);
  keys = () => this.inner.keys();
  set(k: string, v: Uint8Array): void {
    this.inner.set(k, v);
    this.writes++;
  }
  delete(k: string): void {
    this.inner.delete(k);
    this.writes++;
  }
}

export interface KvWriteCase {
  name: string;
  records: number;
  periodMs: number;
  /** The broker is unreachable for this long in the middle of the run (0 = never). */
  outageMs: number;
}

/** KV writes per delivered record, after the link has drained. */
export function kvWritesPerRecord(c: KvWriteCase, seed = 1): { records: number; delivered: number; dropped: number; writes: number; perRecord: number } {
  const clock = new VirtualClock();
  const net = new VirtualNetwork(clock);
  const broker = new VirtualBroker(net, { host: "broker", port: 1883 }).start();
  const seen = new Set<number>();
  broker.subscribeInternal("tether/b1/telemetry", (_t, p) => void seen.add((p[0] << 8) | p[1]));
  const kv = new Counting(new MemoryKv(256 * 1024));
  const link = new Link(
    { clock, network: net, kv, log: () => {}, random: new SeededRandom(seed) },
    { deviceId: "b1", brokers: [{ host: "broker", port: 1883 }], keepAliveSec: 60, backoff: { powerOnMaxMs: 0 } },
  );
  link.start();
  clock.advance(5_000);
  kv.writes = 0;
  const payload = new Uint8Array(90).fill(7); // a one-sample batch is ~90 bytes; the first two carry its index
  const outageAt = Math.floor(c.records / 2);
  for (let i = 0; i < c.records; i++) {
    if (c.outageMs > 0 && i === outageAt) net.setDown(true);
    if (c.outageMs > 0 && i === outageAt + Math.floor(c.outageMs / c.periodMs)) net.setDown(false);
    payload[0] = i >> 8;
    payload[1] = i & 0xff;
    link.send("tether/b1/telemetry", payload.slice());
    clock.advance(c.periodMs);
  }
  net.setDown(false);
  clock.advance(30 * 60_000);
  const dropped = link.stats().dropped;
  link.stop();
  return { records: c.records, delivered: seen.size, dropped, writes: kv.writes, perRecord: kv.writes / c.records };
}

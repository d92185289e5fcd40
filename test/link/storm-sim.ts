/**
 * The reconnect storm: N virtual devices on one broker; the broker goes away for a while and
 * comes back. Measures when the devices get back online. Node-free and seeded.
 */
import type { BackoffPolicy } from "../../device/core/link/backoff";
import { VirtualDevice, makeWorld } from "./world";

export interface StormResult {
  devices: number;
  jitter: BackoffPolicy["jitter"];
  /** Largest number of successful reconnects within any one-second bucket after the return. */
  peakPerSecond: number;
  /** Largest number of CONNECT attempts the broker saw in one second after the return. */
  peakConnectsPerSecond: number;
  /** Time after the broker's return until 50 %, 95 % and 100 % of devices were online, ms. */
  p50Ms: number;
  p95Ms: number;
  allMs: number;
  /** Devices online at the end. */
  online: number;
  /** Devices seen to come back online after the broker returned. */
  returned: number;
}

const MIN = 60_000;

export function runStorm(opts: { devices: number; seed: number; jitter: BackoffPolicy["jitter"]; outageMs?: number }): StormResult {
  const w = makeWorld(opts.seed);
  const outage = opts.outageMs ?? 10 * MIN;
  const devs: VirtualDevice[] = [];
  for (let i = 0; i < opts.devices; i++) {
    devs.push(new VirtualDevice(w, `d${i}`, { keepAliveSec: 60, backoff: { jitter: opts.jitter } }, 0));
  }
  w.clock.advance(2 * MIN); // all online (power-on delay ≤ 30 s), before the stable reset at 60 s
  w.clock.advance(MIN); // stable
  w.broker.stop();
  w.clock.advance(outage);
  const upAt = w.clock.now();
  const connectsAt: number[] = [];
  w.broker.start();
  // Count broker-side CONNECT arrivals per second by sampling the counter each second.
  const perSecond: number[] = [];
  let last = w.broker.stats.connectsReceived;
  for (let s = 0; s < 15 * 60; s++) {
    w.clock.advance(1000);
    perSecond.push(w.broker.stats.connectsReceived - last);
    last = w.broker.stats.connectsReceived;
  }
  for (const d of devs) {
    const back = d.events.find((x) => x.at >= upAt && x.e.type === "state" && x.e.state === "online");
    if (back) connectsAt.push(back.at - upAt);
  }
  connectsAt.sort((a, b) => a - b);
  const buckets = new Map<number, number>();
  for (const t of connectsAt) buckets.set(Math.floor(t / 1000), (buckets.get(Math.floor(t / 1000)) ?? 0) + 1);
  // Infinity when too few came back: a bound on the spread can then never pass by accident.
  const q = (p: number) => connectsAt[Math.min(connectsAt.length - 1, Math.ceil(p * connectsAt.length) - 1)] ?? Infinity;
  return {
    devices: opts.devices,
    jitter: opts.jitter,
    peakPerSecond: Math.max(0, ...buckets.values()),
    peakConnectsPerSecond: Math.max(0, ...perSecond),
    p50Ms: q(0.5),
    p95Ms: q(0.95),
    allMs: connectsAt.length === opts.devices ? connectsAt[connectsAt.length - 1] : Infinity,
    online: devs.filter((d) => d.link.state === "online").length,
    returned: connectsAt.length,
  };
}

/** A site-wide power return: N devices power on at the same instant; CONNECTs per second at the broker. */
export function runPowerOn(opts: { devices: number; seed: number; powerOnMaxMs: number }): { peakConnectsPerSecond: number; allOnlineMs: number } {
  const w = makeWorld(opts.seed);
  const devs: VirtualDevice[] = [];
  for (let i = 0; i < opts.devices; i++) devs.push(new VirtualDevice(w, `p${i}`, { backoff: { powerOnMaxMs: opts.powerOnMaxMs } }, 0));
  let peak = 0;
  let last = 0;
  let allOnlineMs = Infinity;
  for (let s = 0; s < 120; s++) {
    w.clock.advance(1000);
    peak = Math.max(peak, w.broker.stats.connectsReceived - last);
    last = w.broker.stats.connectsReceived;
    if (allOnlineMs === Infinity && devs.every((d) => d.link.state === "online")) allOnlineMs = w.clock.now();
  }
  return { peakConnectsPerSecond: peak, allOnlineMs };
}

// The rollout's device index (service/rollouts/device-index.ts): a tick reads the devices that
// change, not the whole rollout; and after any sequence of steps every index agrees with a count
// made from scratch over all devices.
import { describe, expect, it } from "vitest";
import { RolloutDevices, waitsForOffer } from "../../service/rollouts/device-index";
import {
  FINAL_STATES, step, tally, waveEnds, type DeviceFacts, type DeviceState, type RolloutInput, type RolloutState,
} from "../../service/rollouts/machine";
import { DEFAULTS, type RolloutSpec } from "../../service/rollouts/spec";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";

const V = 1_003_000;
const SEEDS = process.env.SEED ? [testSeed()] : [1, 2, 3, 4, 5, 6];

function spec(over: Partial<RolloutSpec> = {}): RolloutSpec {
  return {
    bundle: "b", version: V, hardwareId: "hw", target: "firmware < 1.3.0", canary: 5, waves: [30, 100], ratePerMinute: 60,
    maxFailurePct: 60, minExecuted: 10, timeoutMs: 120_000, soakMs: 30_000, successThresholdPct: 50, minBatteryPct: 30, maxRetries: 1,
    maxInterrupted: 1, health: { ...DEFAULTS.health }, ...over,
  };
}

function fleet(n: number, s: RolloutSpec): { r: RolloutState; devices: RolloutDevices } {
  const ends = waveEnds(n, s.canary, s.waves);
  const devices = new RolloutDevices();
  for (let i = 0; i < n; i++) {
    devices.set(`d${i}`, {
      deviceId: `d${i}`, position: i, wave: ends.findIndex((e) => i < e), state: "queued", result: null, cause: null, fromVersion: 1_002_000, offeredAt: null,
      offers: 0, progressAt: null, updatedAt: 0, retries: 0, interrupted: 0, detail: null, rollbackAt: null, rollbackResult: null,
    });
  }
  return { r: { id: "r0001", spec: s, status: "running", wave: 0, waveEnds: ends, waveStartedAt: 0, waveSucceededAt: null, haltRule: null, haltDetail: null, updatedAt: 0, finishedAt: null }, devices };
}

function run(st: { r: RolloutState; devices: RolloutDevices }, input: RolloutInput) {
  const out = step(st.r, st.devices, input);
  st.r = out.rollout;
  for (const d of out.changed) st.devices.set(d.deviceId, d);
  return out;
}

const good: DeviceFacts = { online: true, batteryPct: 80, batteryStatus: 0, busy: false, firmwareNum: 1_002_000 };

describe("a rollout tick reads only the devices that change", () => {
  it("10,000 queued devices: a tick asks about the devices the rate reaches (and the offline ones before them), the next tick with no budget about none", () => {
    const st = fleet(10_000, spec({ canary: 10_000, waves: [100], ratePerMinute: 100 }));
    const asked: string[] = [];
    const facts = (id: string) => (asked.push(id), Number(id.slice(1)) < 5 ? { ...good, online: false } : good);
    const first = run(st, { type: "tick", now: 0, facts });
    const offered = first.effects.filter((e) => e.type === "offer").map((e) => (e as { deviceId: string }).deviceId);
    expect(offered).toEqual(Array.from({ length: 17 }, (_, i) => `d${i + 5}`)); // 100/min spread: 17 in 10 s
    expect(asked).toHaveLength(22);
    expect(first.changed.map((d) => d.state)).toEqual([...Array(5).fill("deferred"), ...Array(17).fill("offered")]);
    asked.length = 0;
    const second = run(st, { type: "tick", now: 1_000, facts });
    expect([asked.length, second.changed.length, second.effects.length]).toEqual([0, 0, 0]);
    expect(tally(st.devices.values())).toEqual(st.devices.tally());
  });

  it("an ambiguous rejection waiting for successes in its stratum: a tick asks about that stratum's devices, not about every succeeded device; a device that succeeds or is relabelled counts", () => {
    const st = fleet(2_000, spec({ canary: 2_000, waves: [100] }));
    const strata = new Map<string, string>([["d0", "hardware=c group=-"], ["d1", "hardware=c group=-"]]);
    const asked: string[] = [];
    // d1..d5 stay queued and offline (open, so the rollout goes on); d6.. succeeded in stratum a.
    const offline = (id: string) => Number(id.slice(1)) >= 1 && Number(id.slice(1)) <= 5;
    const facts = (id: string): DeviceFacts => (asked.push(id), { ...good, online: !offline(id), stratum: strata.get(id) ?? "hardware=a group=-" });
    for (const d of [...st.devices.values()]) {
      const n = Number(d.deviceId.slice(1));
      if (n === 0) st.devices.set(d.deviceId, { ...d, state: "ambiguous", result: 105, cause: 6, offers: 1, offeredAt: 0 });
      else if (n > 5) st.devices.set(d.deviceId, { ...d, state: "succeeded", result: 1, offers: 1, offeredAt: 0 });
    }
    const retried = (now: number) => run(st, { type: "tick", now, facts }).effects.filter((e) => e.type === "offer-retry").map((e) => (e as { deviceId: string }).deviceId);
    expect(retried(60_000)).toEqual([]);
    asked.length = 0;
    expect(retried(120_000)).toEqual([]);
    expect(asked.length).toBeLessThan(20); // the old step asked about all 1,994 succeeded devices on every tick
    // d1 (stratum c) succeeds: one success in c, not enough.
    run(st, { type: "status", now: 121_000, deviceId: "d1", status: { state: 0, result: 1, version: V, running: V } });
    expect(retried(180_000)).toEqual([]);
    // d7 is relabelled into c: two successes, d0 gets its one retry.
    strata.set("d7", "hardware=c group=-");
    st.devices.relabel("d7");
    expect(retried(240_000)).toEqual(["d0"]);
  });
});

/** Every index, counted again from scratch. */
function expectIndexesAgree(devices: RolloutDevices, now: number, stratumOf: (id: string) => string, strata: string[]): void {
  const all = [...devices.values()];
  for (const k of strata) {
    expect(devices.succeededIn(k, Infinity, stratumOf, new Map())).toBe(all.filter((d) => d.state === "succeeded" && stratumOf(d.deviceId) === k).length);
  }
  expect(devices.tally()).toEqual(tally(all));
  for (const state of new Set(all.map((d) => d.state))) {
    expect([...devices.inState(state)].map((d) => d.deviceId).sort()).toEqual(all.filter((d) => d.state === state).map((d) => d.deviceId).sort());
  }
  for (let w = 0; w <= Math.max(...all.map((d) => d.wave)); w++) {
    const inWave = all.filter((d) => d.wave === w);
    expect(devices.wave(w)).toEqual({
      devices: inWave.length,
      succeeded: inWave.filter((d) => d.state === "succeeded").length,
      waiting: inWave.filter((d) => (d.state === "deferred" && d.offers === 0) || d.state === "queued").length,
      final: inWave.filter((d) => FINAL_STATES.has(d.state)).length,
    });
  }
  for (const back of [0, 1, 10_000, 60_000, 600_000]) {
    expect(devices.offeredAfter(now - back)).toBe(all.filter((d) => d.offeredAt !== null && d.offeredAt > now - back).length);
  }
  expect([...devices.waiting()].map((d) => d.deviceId)).toEqual(all.filter(waitsForOffer).sort((a, b) => a.position - b.position).map((d) => d.deviceId));
}

const RESULTS = [1, 1, 1, 0, 4, 8, 11, 100, 105, 109, 10];

describe("the indexes agree with a full count after random steps", () => {
  it.each(SEEDS)("seed %i: 60 devices, ticks, statuses and commands", (seed) => {
    withSeed(seed, "test/service/rollout-index.test.ts", () => {
      const rnd = new SeededRandom(seed);
      const st = fleet(60, spec());
      const offline = new Set<string>();
      const facts = (id: string): DeviceFacts => ({ ...good, online: !offline.has(id), stratum: `hw${Number(id.slice(1)) % 2}` });
      let now = 0;
      for (let i = 0; i < 400; i++) {
        now += 1 + rnd.below(8_000);
        const pick = rnd.below(100);
        const ids = [...st.devices.keys()];
        const id = ids[rnd.below(ids.length)];
        if (pick < 30) {
          run(st, { type: "tick", now, facts });
        } else if (pick < 40) {
          if (offline.has(id)) offline.delete(id);
          else offline.add(id);
        } else if (pick < 97) {
          const result = RESULTS[rnd.below(RESULTS.length)];
          const cause = result === 105 ? [3, 4, 6][rnd.below(3)] : result === 109 ? 1 : undefined;
          const downloading = result === 0;
          run(st, {
            type: "status", now, deviceId: id,
            status: { state: downloading ? 1 : 0, result, version: V, running: result === 1 ? V : 1_002_000, ...(cause === undefined ? {} : { cause }) },
          });
        } else {
          const command = (["pause", "resume", "cancel"] as const)[rnd.below(3)];
          if (command !== "cancel" || rnd.below(4) === 0) run(st, { type: "command", now, command });
        }
        expectIndexesAgree(st.devices, now, (x) => facts(x).stratum!, ["hw0", "hw1"]);
      }
      // The runs reach the states the indexes are about.
      const seen = new Set([...st.devices.values()].map((d: DeviceState) => d.state));
      expect(seen.size).toBeGreaterThan(1);
    });
  });
});

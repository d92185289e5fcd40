/**
 * The outbox's bookkeeping against a plain model, over random programs: records made, handed
 * to the client, acknowledged in any order (a broker may PUBACK out of order), dropped when
 * full, and reboots in between. After every step the outbox must agree with the model on what
 * it holds, what it sends next, what it dropped, and what is in the KV.
 */
import { describe, expect, test } from "vitest";
import { Outbox } from "../../device/core/link/outbox";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/link/outbox-model.test.ts";
const SEEDS = [1, 2, 3, 20261126];
const STEPS = 2_000;
const CAPACITY = 5;
const HANDED_MAX = 3;
const quiet = () => {};
const enc = (n: number) => Uint8Array.of(n & 0xff, (n >> 8) & 0xff);

interface ModelRecord {
  n: number;
  handed: boolean;
  maybeSent: boolean;
}

describe("Outbox against a model", () => {
  test.each(SEEDS)("random pushes, hands, out-of-order acks, drops and reboots (seed %i)", (fallback) => {
    const seed = testSeed(fallback);
    withSeed(seed, FILE, () => {
      const random = new SeededRandom(seed);
      const pick = (k: number) => random.nextU32() % k;
      const kv = new MemoryKv();
      let o = new Outbox(kv, quiet, CAPACITY, 1 << 20, HANDED_MAX);
      let model: ModelRecord[] = [];
      let next = 0;
      let dropped = 0;
      for (let step = 0; step < STEPS; step++) {
        const op = pick(10);
        if (op < 4) {
          // Made: while CAPACITY wait already, the oldest not handed is dropped first.
          while (model.filter((r) => !r.handed).length >= CAPACITY) {
            const i = model.findIndex((r) => !r.handed);
            model.splice(i, 1);
            dropped++;
          }
          expect(o.push("t", enc(next))).toBe(next);
          model.push({ n: next, handed: false, maybeSent: false });
          next++;
        } else if (op < 7) {
          // Handed on, as the link does while its window has room.
          if (model.filter((r) => r.handed).length < HANDED_MAX) {
            const want = model.find((r) => !r.handed);
            const r = o.nextToSend();
            expect(r?.n, `step ${step}`).toBe(want?.n);
            if (r && want) {
              expect(r.maybeSent).toBe(want.maybeSent);
              expect([...r.payload]).toEqual([...enc(r.n)]);
              o.markHanded(r.n);
              want.handed = true;
            }
          }
        } else if (op < 9) {
          // A PUBACK for any handed record, or for one already gone (ignored).
          const handed = model.filter((r) => r.handed);
          if (handed.length > 0 && pick(5) > 0) {
            const r = handed[pick(handed.length)];
            expect(o.acknowledge(r.n)).toBe(true);
            model = model.filter((x) => x !== r);
          } else expect(o.acknowledge(next + 7)).toBe(false);
        } else {
          // Reboot: the newest CAPACITY + HANDED_MAX found go out again, marked maybe-sent; older ones are dropped.
          o = new Outbox(kv, quiet, CAPACITY, 1 << 20, HANDED_MAX);
          const over = Math.max(0, model.length - CAPACITY - HANDED_MAX);
          model.splice(0, over);
          dropped += over;
          // Numbers go on from the newest record found (the outbox keeps no meta record).
          next = model.length > 0 ? model[model.length - 1].n + 1 : 0;
          for (const r of model) {
            r.handed = false;
            r.maybeSent = true;
          }
        }
        expect(o.length, `step ${step}`).toBe(model.length);
        expect(o.dropped, `step ${step}`).toBe(dropped);
        const keys = kv.keys().filter((k) => k !== "obd").sort();
        expect(keys, `step ${step}`).toEqual(model.map((r) => `ob${r.n}`).sort());
      }
    });
  });
});

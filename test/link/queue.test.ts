/** The offline queue: order, bounds, counted drops, and power cuts at every KV write. */
import { describe, expect, test } from "vitest";
import { OfflineQueue, QueueError } from "../../device/core/link/queue";
import { KvError } from "../../device/ports";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";
import { CuttableKv, PowerCutError } from "./power";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const quiet = () => {};

function drainAll(q: OfflineQueue): string[] {
  const out: string[] = [];
  for (let r = q.peek(); r; r = q.peek()) {
    out.push(dec(r.payload));
    q.shift();
  }
  return out;
}

describe("OfflineQueue", () => {
  test("a transient storage I/O error loses only the new record, counted; stored records stay", () => {
    let failNext = false;
    class FlakyKv extends MemoryKv {
      override set(key: string, value: Uint8Array): void {
        if (failNext && key.startsWith("oq") && key !== "oqm") {
          failNext = false;
          throw new KvError("io", "flash write failed");
        }
        super.set(key, value);
      }
    }
    const kv = new FlakyKv();
    const q = new OfflineQueue(kv, quiet, 16);
    for (let i = 0; i < 10; i++) q.push("t", enc(`r${i}`));
    failNext = true;
    q.push("t", enc("lost"));
    q.push("t", enc("r10"));
    expect(q.length).toBe(11);
    expect(q.dropped).toBe(1);
    expect(drainAll(new OfflineQueue(kv, quiet, 16))).toEqual([...Array.from({ length: 10 }, (_, i) => `r${i}`), "r10"]);
  });

  test("drains in order and survives a reboot", () => {
    const kv = new MemoryKv();
    const q = new OfflineQueue(kv, quiet, 8);
    for (let i = 0; i < 5; i++) q.push("t", enc(`r${i}`));
    q.shift();
    const again = new OfflineQueue(kv, quiet, 8);
    expect(again.length).toBe(4);
    expect(drainAll(again)).toEqual(["r1", "r2", "r3", "r4"]);
    expect(new OfflineQueue(kv, quiet, 8).length).toBe(0);
  });

  test("when full drops the oldest and counts every drop", () => {
    const kv = new MemoryKv();
    const q = new OfflineQueue(kv, quiet, 4);
    for (let i = 0; i < 10; i++) q.push("t", enc(`r${i}`));
    expect(q.length).toBe(4);
    expect(q.dropped).toBe(6);
    const again = new OfflineQueue(kv, quiet, 4);
    expect(again.dropped).toBe(6);
    expect(drainAll(again)).toEqual(["r6", "r7", "r8", "r9"]);
    // Never more keys than capacity + meta.
    expect(kv.keys().length).toBe(1);
  });

  test("keeps to its byte budget", () => {
    const kv = new MemoryKv();
    const q = new OfflineQueue(kv, quiet, 100, 2000);
    for (let i = 0; i < 20; i++) q.push("t", new Uint8Array(300));
    expect(q.length).toBeLessThanOrEqual(2000 / 300);
    expect(q.length + q.dropped).toBe(20);
  });

  test("a full KV makes room by dropping old records, never by losing silently", () => {
    const kv = new MemoryKv(3000);
    const q = new OfflineQueue(kv, quiet, 100, 100_000);
    for (let i = 0; i < 30; i++) q.push("t", new Uint8Array(400));
    expect(q.length).toBeGreaterThan(0);
    expect(q.length + q.dropped).toBe(30);
  });

  test("records too large are refused clearly", () => {
    const q = new OfflineQueue(new MemoryKv(), quiet);
    expect(() => q.push("t", new Uint8Array(5000))).toThrow(QueueError);
    expect(() => q.push("", new Uint8Array(1))).toThrow(/empty topic/);
  });

  test("garbage in the KV is discarded and counted, not a crash", () => {
    const kv = new MemoryKv();
    const q = new OfflineQueue(kv, quiet, 8);
    for (let i = 0; i < 3; i++) q.push("t", enc(`r${i}`));
    kv.set("oq1", Uint8Array.of(1, 2, 3));
    const again = new OfflineQueue(kv, quiet, 8);
    expect(drainAll(again)).toEqual(["r0", "r2"]);
    expect(again.dropped).toBe(1);
    kv.set("oqm", Uint8Array.of(0xff));
    expect(() => new OfflineQueue(kv, quiet, 8)).not.toThrow();
  });

  test("power cut at every KV write: nothing acknowledged is lost, order holds, drops are counted", () => {
    const seed = testSeed();
    withSeed(seed, "test/link/queue.test.ts", () => {
      const rand = new SeededRandom(seed);
      // A random script of pushes and shifts, replayed with a cut at each write in turn.
      const script: ("push" | "shift")[] = [];
      for (let i = 0; i < 40; i++) script.push(rand.below(3) === 0 ? "shift" : "push");
      const run = (kv: CuttableKv) => {
        const pushed: string[] = []; // push() returned: the queue owns it
        const shifted: string[] = []; // handed on
        let next = 0;
        try {
          const q = new OfflineQueue(kv, quiet, 6);
          for (const op of script) {
            if (op === "push") {
              const name = `r${next++}`;
              q.push("t", enc(name));
              pushed.push(name);
            } else {
              const r = q.peek();
              if (r) {
                shifted.push(dec(r.payload)); // handed on before shift (the link publishes, then shifts)
                q.shift();
              }
            }
          }
        } catch (e) {
          if (!(e instanceof PowerCutError)) throw e;
        }
        return { pushed, shifted, next };
      };
      const full = new CuttableKv(new MemoryKv());
      run(full);
      const totalOps = full.ops;
      for (let cutAt = 0; cutAt < totalOps; cutAt++) {
        const kv = new CuttableKv(new MemoryKv());
        kv.cutAt = cutAt;
        const { pushed, shifted, next } = run(kv);
        kv.cutAt = Infinity;
        const q = new OfflineQueue(kv, quiet, 6);
        const left = drainAll(q);
        // Order: what remains is increasing, and starts after the last fully shifted record
        // (the one being shifted at the cut may come back: a detectable duplicate).
        const nums = left.map((s) => Number(s.slice(1)));
        for (let i = 1; i < nums.length; i++) expect(nums[i]).toBeGreaterThan(nums[i - 1]);
        // Every record the queue accepted and did not hand on is still there or counted dropped.
        const owed = pushed.filter((p) => !shifted.includes(p));
        const missing = owed.filter((p) => !left.includes(p));
        if (missing.length > q.dropped) {
          expect.fail(`cut at write ${cutAt}/${totalOps}: ${missing.join(",")} missing but only ${q.dropped} counted dropped; left ${left.join(",")}; pushed ${pushed.join(",")}; shifted ${shifted.join(",")}`);
        }
        // Nothing appears that was never pushed, except the one push interrupted by the cut.
        for (const l of left) expect(Number(l.slice(1))).toBeLessThanOrEqual(next);
      }
      expect(totalOps).toBeGreaterThan(50);
    });
  });
});

describe("OfflineQueue across a capacity change (a new build after OTA)", () => {
  test("a larger capacity keeps every record in order; a smaller one keeps the newest, counting the rest", () => {
    const kv = new MemoryKv(64 * 1024);
    const small = new OfflineQueue(kv, quiet, 8);
    for (let i = 0; i < 13; i++) small.push("t", enc(`r${i}`)); // r0..r4 dropped: full at 8
    expect(small.dropped).toBe(5);
    const big = new OfflineQueue(kv, quiet, 32);
    expect(big.length).toBe(8);
    for (let i = 13; i < 20; i++) big.push("t", enc(`r${i}`));
    const tiny = new OfflineQueue(kv, quiet, 4);
    expect(tiny.length).toBe(4);
    expect(tiny.dropped).toBe(5 + 11);
    expect(drainAll(tiny)).toEqual(["r16", "r17", "r18", "r19"]);
    // Nothing is left behind in storage for the dropped records.
    expect(kv.keys().filter((k) => /^oq\d+$/.test(k))).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { SEQ_KEY, SEQ_WINDOW, SequenceCounter } from "../../device/core/sequence";
import { MemoryKv } from "../../host-sim/virtual/kv";

class CountingKv extends MemoryKv {
  writes = 0;
  override set(key: string, value: Uint8Array): void {
    this.writes++;
    super.set(key, value);
  }
}

describe("SequenceCounter", () => {
  it("counts up from 0 and writes the store once per window, not per message", () => {
    const kv = new CountingKv();
    const seq = new SequenceCounter(kv);
    const got = Array.from({ length: SEQ_WINDOW * 3 }, () => seq.take());
    expect(got).toEqual(Array.from({ length: SEQ_WINDOW * 3 }, (_, i) => i));
    expect(kv.writes).toBe(3);
  });

  it("never repeats or goes back across reboots, even a reboot right after a reservation", () => {
    const kv = new MemoryKv();
    const seen: number[] = [];
    for (let boot = 0; boot < 5; boot++) {
      const seq = new SequenceCounter(kv);
      for (let i = 0; i < 3 + boot * 7; i++) seen.push(seq.take());
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
  });

  it("reads a stored value of the wrong length as absent", () => {
    const kv = new MemoryKv();
    kv.set(SEQ_KEY, new Uint8Array([1, 2]));
    expect(new SequenceCounter(kv).take()).toBe(0);
  });
});

describe("SequenceCounter on a failing store", () => {
  it("hands out nothing it could not reserve, so a reboot never repeats a number", () => {
    let fail = false;
    class FlakyKv extends MemoryKv {
      override set(key: string, value: Uint8Array): void {
        if (fail) throw new Error("flash write failed");
        super.set(key, value);
      }
    }
    const kv = new FlakyKv();
    const seq = new SequenceCounter(kv);
    const given: number[] = [];
    for (let i = 0; i < SEQ_WINDOW; i++) given.push(seq.take());
    fail = true;
    expect(() => seq.take()).toThrowError(/flash write failed/);
    expect(() => seq.take()).toThrowError(/flash write failed/);
    fail = false;
    given.push(seq.take());
    const after = new SequenceCounter(kv).take(); // reboot
    expect(new Set([...given, after]).size).toBe(given.length + 1);
    expect(after).toBeGreaterThan(Math.max(...given));
  });
});

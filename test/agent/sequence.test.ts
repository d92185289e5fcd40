import { describe, expect, it } from "vitest";
import { SEQ_KEY, SEQ_MODULUS, SEQ_WINDOW, SequenceCounter, readCounter } from "../../device/core/sequence";
import { decodeTelemetryBatch, encodeTelemetryBatch } from "../../device/core/telemetry/record";
import { MemoryKv } from "../../host-sim/virtual/kv";

class CountingKv extends MemoryKv {
  writes = 0;
  override set(key: string, value: Uint8Array): void {
    this.writes++;
    super.set(key, value);
  }
}

describe("SequenceCounter", () => {
  it("counts up from 0 and writes the store once per window (twice with its cut-safe shadow, but the first), not per message", () => {
    const kv = new CountingKv();
    const seq = new SequenceCounter(kv);
    const got = Array.from({ length: SEQ_WINDOW * 3 }, () => seq.take());
    expect(got).toEqual(Array.from({ length: SEQ_WINDOW * 3 }, (_, i) => i));
    expect(kv.writes).toBe(1 + 2 * 2);
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

  it("wraps to 0 after 2³²−1 instead of stopping, and never goes back across a reboot (64-bit store)", () => {
    const kv = new MemoryKv();
    kv.set(SEQ_KEY, Uint8Array.of(0xff, 0xff, 0xff, 0xf8)); // a 4-byte counter from an older build
    const a = new SequenceCounter(kv);
    const got = Array.from({ length: 12 }, () => a.take());
    expect(got).toEqual([0xfffffff8, 0xfffffff9, 0xfffffffa, 0xfffffffb, 0xfffffffc, 0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2, 3]);
    expect(readCounter(kv.get(SEQ_KEY))).toBeGreaterThan(SEQ_MODULUS); // stored as 8 bytes now
    const b = new SequenceCounter(kv); // reboot: continues after the reserved window, wrapped
    expect(b.take()).toBe(8);
    // Every wrapped number is a valid telemetry seq (the old counter stopped: 2³² was refused).
    for (const seq of [0xffffffff, 0, 8]) {
      const bytes = encodeTelemetryBatch({
        deviceId: "d", seq, firmware: "1", slot: 0, resetReason: "power-on", timeBase: "uptime", madeAtMs: 0, uptimeMs: 0, samples: [],
      });
      expect(decodeTelemetryBatch(bytes).seq).toBe(seq);
    }
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

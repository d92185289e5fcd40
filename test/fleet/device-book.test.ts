/**
 * The fleet's per-device bookkeeping: sequence-number sets that start empty and grow, and a
 * book that costs little until something is recorded (10,000 of them live through a run).
 */
import { describe, expect, it } from "vitest";
import { DeviceBook, SeqSet } from "../../host-sim/fleet/metrics";

describe("SeqSet", () => {
  it("answers for numbers never added, grows to any number, and counts what another set lacks", () => {
    const a = new SeqSet();
    const b = new SeqSet();
    expect(a.has(0)).toBe(false);
    expect(a.has(100_000)).toBe(false);
    expect(a.countMissingFrom(b)).toBe(0);
    expect(a.add(0)).toBe(true);
    expect(a.add(0)).toBe(false);
    expect(a.add(5_000)).toBe(true);
    expect(a.add(255)).toBe(true);
    expect([a.has(0), a.has(255), a.has(5_000), a.has(1)]).toEqual([true, true, true, false]);
    expect(a.size).toBe(3);
    // b is still empty: all of a is missing from it, nothing of b from a.
    expect(a.countMissingFrom(b)).toBe(3);
    expect(b.countMissingFrom(a)).toBe(0);
    b.add(255);
    expect(a.countMissingFrom(b)).toBe(2);
  });
});

describe("DeviceBook", () => {
  it("holds no buffers or sets of its own until something is recorded (well under 450 B a device)", () => {
    // The old book made two 32-byte bitsets and an empty Set per device: about 830 B.
    const books: DeviceBook[] = [new DeviceBook()];
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) books.push(new DeviceBook());
    expect((process.memoryUsage().heapUsed - before) / 20_000).toBeLessThan(450);
    expect(books[1].withdrawnVersions).toBeUndefined();
    expect(books[1].made.has(0)).toBe(false);
  });
});

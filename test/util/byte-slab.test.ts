/**
 * transientBytes must give what `new Uint8Array(n)` gives: n zero bytes that no other buffer
 * shares, so writing one never shows in another, across slab boundaries too.
 */
import { describe, expect, test } from "vitest";
import { SLAB_BYTES, transientBytes } from "../../device/core/util/byte-slab";

describe("transientBytes", () => {
  test("zero-filled, the asked length, never overlapping, across many slabs", () => {
    const sizes = [1, 64, 65, 66, 190, 1024, 1025, 4000, 200, 65, 300];
    const made: Uint8Array[] = [];
    for (let round = 0; round < 3 * (SLAB_BYTES / 65) + 5; round++) {
      const n = sizes[round % sizes.length];
      const b = transientBytes(n);
      expect(b.length).toBe(n);
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill((round % 255) + 1);
      made.push(b);
    }
    // Every buffer still holds its own fill: none was handed out twice.
    made.forEach((b, round) => expect(b.every((x) => x === (round % 255) + 1), `buffer ${round}`).toBe(true));
  });
});

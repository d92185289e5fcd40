/** CI fuzz run: ≥ 100,000 parser inputs and a few thousand through the whole client. */
import { expect, test } from "vitest";
import { testSeed, withSeed } from "../helpers/seed";
import { fuzzClient, fuzzParser } from "./mqtt-fuzz";

const FILE = "test/fuzz/mqtt.fuzz.test.ts";

test("parser: 100,000 random and mutated inputs, no exception, clear reasons", () => {
  const seed = testSeed();
  const stats = withSeed(seed, FILE, () => fuzzParser(seed, 100_000));
  expect(stats.inputs).toBe(100_000);
  // The corpus must exercise both outcomes, or it tests nothing.
  expect(stats.packets).toBeGreaterThan(20_000);
  expect(stats.errors).toBeGreaterThan(30_000);
  expect(stats.reasons.size).toBeGreaterThan(10);
});

test("client: 3,000 hostile streams, never throws, closes once, leaves no timers", () => {
  const seed = testSeed();
  const r = withSeed(seed, FILE, () => fuzzClient(seed, 3_000));
  expect(r.closed).toBe(3_000);
});

import { describe, expect, it } from "vitest";
import { DeviceBook, loopingDevices, RESTARTS_PER_OFFER } from "../../host-sim/fleet/metrics";

const book = (offers: number, restarts: number) => Object.assign(new DeviceBook(), { offers, restarts });

describe("the restart-loop check's examples", () => {
  it("names each looping device with its own restart count, not a neighbour's", () => {
    // Device 1 loops with 9 restarts; device 0 (before it) and device 2 (after it) do not.
    const books = [book(0, 1), book(1, 9), book(0, 0), book(2, 2 * RESTARTS_PER_OFFER + 3)];
    expect(loopingDevices(["d0", "d1", "d2", "d3"], books)).toEqual(["d1 (9 restarts)", "d3 (7 restarts)"]);
  });

  it("allows each offer its install and rollback restarts plus a little slack", () => {
    const budget = RESTARTS_PER_OFFER * 3 + 2;
    expect(loopingDevices(["a", "b"], [book(3, budget), book(3, budget + 1)])).toEqual([`b (${budget + 1} restarts)`]);
  });
});

import { describe, expect, it } from "vitest";
import { ESP32_STACK_SLOTS } from "../../scripts/build-xsnap.mjs";
import { runScenarioInXs, runScenarioOnNode } from "./harness";

const SCENARIO = new URL("./scenarios/deep-cbor.scenario.ts", import.meta.url);

describe("XS tier: deeply nested CBOR from the network", () => {
  it("is refused with a result code and acknowledged, on xsnap's stack and on the ESP32 manifest's", async () => {
    const [node, xs, esp32] = await Promise.all([
      runScenarioOnNode(SCENARIO),
      runScenarioInXs(SCENARIO, { timeoutMs: 120_000 }),
      runScenarioInXs(SCENARIO, { timeoutMs: 120_000, stackSlots: ESP32_STACK_SLOTS }),
    ]);
    expect(xs.lines).toEqual(node.lines);
    expect(esp32.lines).toEqual(node.lines);
    const text = node.lines.join("\n");
    expect(text).toMatch(/^online=online handled=2$/m);
    expect(node.lines.filter((l) => /^result code=1 not CBOR: nested deeper than 8 levels/.test(l))).toHaveLength(2);
    // Acknowledged: a reset does not bring the message back, and the device is online.
    expect(text).toMatch(/^after reboot online=online handled=2 results=2$/m);
    for (const what of ["envelope", "manifest", "status"]) {
      for (const depth of [9, 70, 5000]) expect(text).toMatch(new RegExp(`^${what} ${depth}: refused \\(.*nested deeper than 8 levels`, "m"));
    }
    expect(text).toMatch(/^status 8: refused \(ota status: not a CBOR map\)$/m);
  }, 240_000);
});

// The ESP32 bundle works when built-in functions have no `name`, as on the board with a strip list.
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import { bundleWithFakes } from "../esp32/bundle";
import { runScenarioInXs } from "./harness";

describe("built-in names stripped (manifests/esp32 strip list, preloaded bundle)", () => {
  it("loads cbor-x and decodes messages and RFC 8746 typed arrays in XS", async () => {
    const bundle = await bundleWithFakes("test/xs/scenarios/esp32-stripped-names.scenario.ts");
    try {
      const { lines } = await runScenarioInXs(bundle);
      expect(lines).toEqual([
        "names: Uint8Array=undefined Float64Array=undefined",
        "encoded: a4000101656465762d3102430102030382241a00011170",
        "decoded: dev-1 010203 [-5,70000]",
        "uint16be: 1,258",
        "uint16le: 1,258",
        "int32le: -2",
        "float64le: 1.5",
        "done",
      ]);
    } finally {
      fs.rmSync(bundle, { force: true });
    }
  }, 120_000);
});

// Every error class of the ESP32 bundle works with the built-ins frozen, as preload leaves them.
import { describe, expect, it } from "vitest";
import { bundleWithFakes } from "../esp32/bundle";
import { runScenarioInXs } from "./harness";
import fs from "node:fs";

describe("error classes under frozen built-ins (the preloaded board)", () => {
  it("construct with their own name, message and class in XS", async () => {
    const bundle = await bundleWithFakes("test/xs/scenarios/esp32-frozen-errors.scenario.ts");
    try {
      const { lines } = await runScenarioInXs(bundle);
      const bad = lines.filter((l) => l.includes(": ") && !/^\w+: name=(\w+) message=m instance=true$/.test(l) && !l.startsWith("truncated: "));
      expect(bad).toEqual([]);
      for (const l of lines) {
        const m = /^(\w+): name=(\w+) /.exec(l);
        if (m) expect(m[2]).toBe(m[1]);
      }
      expect(lines.filter((l) => / name=/.test(l)).length).toBe(16);
      expect(lines).toContain("truncated: CborScanError: truncated argument at byte 4");
      expect(lines.at(-1)).toBe("done");
    } finally {
      fs.rmSync(bundle, { force: true });
    }
  }, 120_000);
});

/**
 * A fleet scenario on ESP-IDF's boot model (scenarios/ota-esp-idf.json, `"bootModel": "esp-idf"`):
 * every device takes a good update and confirms it in ESP-IDF's otadata; the four offered a
 * build that crashes at start are rolled back by the one-trial-boot rule, and their otadata says
 * so. Replay: SEED=<seed> npx vitest run test/fleet/boot-model.test.ts
 */
import { describe, expect, it } from "vitest";
import { bootModel } from "../../host-sim/boot/boot-models";
import { OtaImgState, readOtadata, slotOfSeq } from "../../host-sim/boot/esp-idf-otadata";
import { parseScenario } from "../../host-sim/fleet/scenario";
import { fleet, loadScenario, seedFromEnv } from "./helpers";

const scenario = loadScenario("ota-esp-idf.json");
const SEED = seedFromEnv(scenario.seed!);
const replay = `replay: SEED=${SEED} npx vitest run test/fleet/boot-model.test.ts`;
const GOOD = 1_001_000;

describe("a fleet on ESP-IDF's boot model", () => {
  it("updates every device and rolls back the four offered a build that crashes at start", async () => {
    expect(scenario.bootModel).toBe("esp-idf");
    const f = await fleet(scenario, { seed: SEED });
    const s = f.run();
    expect(f.bootModel.name).toBe("esp-idf");
    const bad = f.devices.filter((_, i) => f.books[i].offeredBad);
    expect(bad.length, replay).toBe(4);
    expect({ updated: s.ota.updated, rolledBack: s.ota.rolledBack, bricked: s.ota.bricked }, replay).toEqual({ updated: 8, rolledBack: 4, bricked: 0 });
    const esp = bootModel("esp-idf");
    for (const d of f.devices) {
      const at = `${d.id}; ${replay}`;
      expect(d.version, at).toBe(GOOD);
      // ESP-IDF's otadata, not the reference records: the active entry selects the running slot, VALID.
      expect(esp.recordProblems(d.flash, d.slot), at).toEqual([]);
      expect(esp.slotState(d.flash, d.slot), at).toBe("valid");
    }
    for (const d of bad) {
      // The crashed build's entry was aborted by the bootloader (one unconfirmed boot), in place.
      const other = d.slot === 0 ? 1 : 0;
      const states = readOtadata(d.flash.open("otadata")).filter((e) => slotOfSeq(e.seq) === other).map((e) => e.state);
      expect(states, `${d.id}; ${replay}`).toContain(OtaImgState.Aborted);
    }
  }, 300_000);

  it("refuses an unknown boot model with its path", () => {
    expect(() => parseScenario(JSON.stringify({ bootModel: "mcuboot" }), "x.json")).toThrow(/scenario\.bootModel: expected "reference" or "esp-idf", got "mcuboot"/);
  });
});

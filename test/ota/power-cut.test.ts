/** The power-cut suite (power-cut-suite.ts) against the reference bootloader, plus ESP-IDF's N = 1 trial rule on it. */
import { describe, it } from "vitest";
import { powerCutSuite, sweep } from "./power-cut-suite";
import { idfUpdateScenario } from "./scenarios";

powerCutSuite("reference", "test/ota/power-cut.test.ts", { update: "updated", rollback: "rolled-back" });

describe("reference bootloader with N = 1", () => {
  it("every cut completes or cleanly rolls back", () => sweep(idfUpdateScenario(), "either", {}), 180_000);
});

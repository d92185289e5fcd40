// Virtual devices must have the partitions a board has: same names, same sizes.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "../../host-sim/layout";

const CSV = new URL("../../manifests/esp32/partitions.csv", import.meta.url);

describe("host-sim flash layout", () => {
  it("matches manifests/esp32/partitions.csv for every partition the agent opens", () => {
    const rows = new Map<string, number>();
    for (const line of readFileSync(CSV, "utf8").split("\n")) {
      const t = line.trim();
      if (!t || t.startsWith("#")) continue;
      const [name, , , , size] = t.split(",").map((c) => c.trim());
      rows.set(name, Number(size));
    }
    for (const { name, size } of ESP32_4MB_LAYOUT) {
      expect(rows.get(name), `partition ${name}`).toBe(size);
      expect(size % FLASH_BLOCK_SIZE).toBe(0);
    }
  });
});

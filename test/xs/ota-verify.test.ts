// OTA manifest verification, a whole update and a rollback give the same trace inside XS as on Node.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureXsnap, runScenarioInXs, runScenarioOnNode } from "./harness";

const scenario = new URL("./scenarios/ota-verify.scenario.ts", import.meta.url);

beforeAll(async () => {
  await ensureXsnap();
}, 180_000);

describe("OTA in the XS tier", () => {
  it("verify verdicts, an update and a rollback: identical traces on XS and Node", async () => {
    const [xs, node] = await Promise.all([runScenarioInXs(scenario, { timeoutMs: 120_000 }), runScenarioOnNode(scenario)]);
    expect(node.lines).toContain("verify good: ok v2");
    expect(node.lines.some((l) => l.startsWith("verify bad-signature: 100 "))).toBe(true);
    expect(node.lines.some((l) => l.startsWith("verify unknown-key: 101 "))).toBe(true);
    expect(node.lines.some((l) => l.startsWith("verify edited: 100 "))).toBe(true);
    expect(node.lines.some((l) => l.startsWith("verify garbage: 6 "))).toBe(true);
    expect(node.lines.some((l) => l.includes("status 0/1 v2") && l.includes("image confirmed"))).toBe(true);
    expect(node.lines.some((l) => l.includes("status 0/105 v3"))).toBe(true);
    expect(xs.lines.join("\n")).toBe(node.lines.join("\n"));
  }, 180_000);
});

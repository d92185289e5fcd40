// The battery + telemetry scenario gives the same trace inside a real XS engine as on Node.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureXsnap, runScenarioInXs, runScenarioOnNode } from "./harness";

const scenario = new URL("./scenarios/telemetry-battery.scenario.ts", import.meta.url);

beforeAll(async () => {
  await ensureXsnap();
}, 180_000);

describe("telemetry + battery in the XS tier", () => {
  it("a simulated battery life gives a byte-identical trace on XS and Node", async () => {
    const [xs, node] = await Promise.all([runScenarioInXs(scenario, { timeoutMs: 120_000 }), runScenarioOnNode(scenario)]);
    expect(node.lines.some((l) => l.includes("alarm low"))).toBe(true);
    expect(node.lines.some((l) => l.includes("brownout saved="))).toBe(true);
    expect(node.lines).toContain("re-encoded equal: true");
    expect(xs.lines.join("\n")).toBe(node.lines.join("\n"));
  }, 180_000);
});

// The virtual broker runs inside XS: the same mini fleet gives the same trace there as on Node.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureXsnap, runScenarioInXs, runScenarioOnNode } from "../xs/harness";

const scenario = new URL("./scenarios/fleet-mini.scenario.ts", import.meta.url);

beforeAll(async () => {
  await ensureXsnap();
}, 180_000);

describe("virtual broker in XS", () => {
  it("runs devices + broker + backend with a byte-identical trace on XS and Node", async () => {
    const node = await runScenarioOnNode(scenario);
    const lines = node.lines;
    // The story happened on Node...
    expect(lines.filter((l) => / backend tether\/d\d\/telemetry n\d q1$/.test(l)).length).toBe(9);
    expect(lines.some((l) => l.endsWith("d2 got tether/d2/config rate=30 q1"))).toBe(true);
    expect(lines.some((l) => /broker disconnected d3 \(keep-alive expired\) will=true/.test(l))).toBe(true);
    expect(lines.some((l) => l.endsWith("backend tether/d3/status offline r=false"))).toBe(true);
    expect(lines.some((l) => l.endsWith("retained d3 status offline"))).toBe(true);
    expect(lines.some((l) => / d3 connected sp=false$/.test(l) && Number(/t=(\d+)/.exec(l)![1]) > 80_000)).toBe(true);
    expect(lines.filter((l) => / d[123] connected sp=false$/.test(l)).length).toBeGreaterThanOrEqual(6);
    expect(lines.some((l) => l.endsWith("d1 got tether/d1/config after-restart q1"))).toBe(true);
    // ...and XS told it byte for byte the same.
    const xs = await runScenarioInXs(scenario);
    expect(xs.lines.join("\n")).toBe(lines.join("\n"));
  });
});

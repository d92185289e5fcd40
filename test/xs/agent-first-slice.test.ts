import { describe, expect, it } from "vitest";
import { runScenarioInXs, runScenarioOnNode } from "./harness";

const SCENARIO = new URL("./scenarios/agent-first-slice.scenario.ts", import.meta.url);

describe("XS tier: the agent's first slice", () => {
  it("runs inside XS with a trace byte-identical to Node's", async () => {
    const node = await runScenarioOnNode(SCENARIO);
    const xs = await runScenarioInXs(SCENARIO);
    expect(xs.lines.join("\n")).toBe(node.lines.join("\n"));

    // The trace is about something: the device booted, published, lost the link, came back.
    const text = node.lines.join("\n");
    expect(text).toMatch(/boot 1\.0\.0 slot=0 reset=power-on/);
    expect(text).toMatch(/link online new session/);
    expect(text).toMatch(/fault: network drops/);
    expect(node.lines.filter((l) => l.includes(" link online ")).length).toBe(2);
    const published = node.lines.filter((l) => / telemetry seq=\d+ sent=true /.test(l)).length;
    const received = node.lines.filter((l) => / backend tether\/xs-1\/telemetry /.test(l)).length;
    expect(published).toBeGreaterThanOrEqual(8);
    expect(received).toBe(published);
    expect(node.lines.at(-1)).toMatch(/timers pending=0$/);
  });
});

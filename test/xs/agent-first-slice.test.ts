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
    // At-least-once: every batch made reaches the backend (a QoS 1 resend after the drop may
    // deliver one twice; the sequence number makes that visible).
    const seqs = (re: RegExp) => new Set(node.lines.map((l) => re.exec(l)?.[1]).filter((x) => x !== undefined));
    const made = seqs(/ telemetry seq=(\d+) queued=/);
    const received = seqs(/ backend tether\/xs-1\/telemetry seq=(\d+) /);
    expect(made.size).toBeGreaterThanOrEqual(8);
    expect([...received].sort()).toEqual([...made].sort());
    expect(node.lines.at(-1)).toMatch(/timers pending=0$/);
  });
});

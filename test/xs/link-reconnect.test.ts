import { describe, expect, it } from "vitest";
import { runScenarioInXs, runScenarioOnNode } from "./harness";

const SCENARIO = new URL("./scenarios/link-reconnect.scenario.ts", import.meta.url);

describe("XS tier: the link's reconnect logic", () => {
  it("gives the same trace in XS as on Node, through every fault", async () => {
    const [node, xs] = await Promise.all([runScenarioOnNode(SCENARIO), runScenarioInXs(SCENARIO, { timeoutMs: 120_000 })]);
    expect(xs.lines.join("\n")).toBe(node.lines.join("\n"));
    // The trace is about something: each fault shows up, and nothing accepted was lost.
    const text = node.lines.join("\n");
    expect(text).toMatch(/ backoff (keep-alive: no PINGRESP|PUBACK timeout for packet \d+)/);
    expect(text).toMatch(/ backoff CONNACK timeout/);
    expect(text).toMatch(/ backoff refused: not authorized \(5\)/);
    expect(text).toMatch(/ \(mid-packet\)|connection reset/);
    for (const id of ["xa", "xb", "xc"]) {
      const line = node.lines.find((l) => l.startsWith(`${id} accepted=`))!;
      const m = /accepted=(\d+) delivered=(\d+) missing=(\d+) dropped=(\d+) .* inOrder=true .* state=online/.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number(m![3])).toBe(Number(m![4])); // every undelivered record is a counted drop
    }
    expect(text).toMatch(/dupFlag=[1-9]/);
    expect(node.lines.at(-1)).toMatch(/^storm .*"online":200/);
  }, 180_000);
});

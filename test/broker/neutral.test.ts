// The virtual broker runs inside XS scenarios too, so it follows host-sim/virtual's rules:
// no Node imports or globals, no timers but the Clock port; it may import host-sim/virtual,
// the ports, device/core and itself.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/build.mjs";
import { findViolations, formatViolations } from "../guard/neutral-checker";

const dir = path.join(repoRoot, "host-sim", "broker");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f));

describe("host-sim/broker is platform neutral", () => {
  it("has no platform imports and no Node globals", () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
    const violations = files
      .flatMap((f) => findViolations(fs.readFileSync(f, "utf8"), f, "host-sim-virtual"))
      .filter((v) => !v.rule.startsWith(`imports host-sim${path.sep}broker${path.sep}`));
    expect(violations, `\n${formatViolations(violations)}\n`).toEqual([]);
  });

  it("the checker would catch a Node import or a raw timer here", () => {
    const f = path.join(dir, "virtual-broker.ts");
    expect(findViolations(`import net from "node:net";`, f, "host-sim-virtual")).toHaveLength(1);
    expect(findViolations(`setTimeout(() => 1, 5);`, f, "host-sim-virtual").length).toBeGreaterThan(0);
  });
});

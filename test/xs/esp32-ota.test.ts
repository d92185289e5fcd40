/**
 * XS tier, OTA on the ESP32 adapters: the agent completes one update (download into "nextota",
 * trial boot, health check, confirm) and rolls back another (health check fails) on the Moddable
 * fakes and the ESP-IDF boot model, identically in XS and Node.
 */
import { describe, expect, it } from "vitest";
import { runEsp32Scenario } from "../esp32/bundle";

const SCENARIO = "test/xs/scenarios/esp32-ota.scenario.ts";

describe("OTA through the ESP32 adapters", () => {
  it("confirms a healthy update and rolls back an unhealthy one, identically in XS and Node", async () => {
    const { xs, node } = await runEsp32Scenario(SCENARIO);
    expect(xs.lines).toEqual(node.lines);
    const lines = xs.lines.map((l) => l.replace(/^@\d+ /, ""));
    const indexOf = (re: RegExp) => {
      const i = lines.findIndex((l) => re.test(l));
      expect(i, `no line matching ${re}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // Update 1: the trial boots from slot 1 as PENDING_VERIFY, passes, is confirmed.
    const order1 = [
      /^offered v1\.1\.0/,
      /^restart \(System\.restart\)$/,
      /^boot slot=1 v1\.1\.0 state=pending-verify$/,
      /^ota state=0 result=1 detail=image confirmed$/,
      /^after update 1: slot=1 v1\.1\.0 state=valid other=undefined$/,
    ].map(indexOf);
    expect([...order1].sort((a, b) => a - b)).toEqual(order1);
    // Update 2: the trial runs without a broker, fails its health check, and the binding rolls back.
    const order2 = [
      /^offered v1\.2\.0/,
      /^boot slot=0 v1\.2\.0 state=pending-verify$/,
      /^ota state=0 result=105 detail=health check not passed/,
      /^restart \(rollback\)$/,
      /^boot slot=1 v1\.1\.0 state=valid$/,
      /^after update 2: slot=1 v1\.1\.0 state=valid other=invalid$/,
    ].map(indexOf);
    expect([...order2].sort((a, b) => a - b)).toEqual(order2);
    expect(order2[0]).toBeGreaterThan(order1[4]);
    expect(lines.filter((l) => l.startsWith("error "))).toEqual([]);
  });
});

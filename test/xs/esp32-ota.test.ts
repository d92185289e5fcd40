/**
 * XS tier, OTA on the ESP32 adapters: the agent completes one update (download into "nextota",
 * trial boot, health check, confirm), retries one whose trial could not reach the broker, and
 * rejects a crashing one whose abort a power cut tore, on the Moddable fakes and the
 * ESP-IDF otadata model, identically in XS and Node.
 */
import { describe, expect, it } from "vitest";
import { runEsp32Scenario } from "../esp32/bundle";

const SCENARIO = "test/xs/scenarios/esp32-ota.scenario.ts";

describe("OTA through the ESP32 adapters", () => {
  it("confirms a healthy update, retries one cut short by a broker outage, rejects a crashing one whose abort was torn, identically in XS and Node", async () => {
    const { xs, node } = await runEsp32Scenario(SCENARIO);
    expect(xs.lines).toEqual(node.lines);
    const lines = xs.lines.map((l) => l.replace(/^@\d+ /, ""));
    let from = 0;
    /** The next line matching `re`, after the previous match. */
    const next = (re: RegExp) => {
      const i = lines.findIndex((l, k) => k >= from && re.test(l));
      expect(i, `no line matching ${re} after line ${from}`).toBeGreaterThanOrEqual(0);
      from = i + 1;
      return i;
    };
    // Update 1: the trial boots from slot 1 as PENDING_VERIFY, passes, is confirmed.
    [
      /^offered v1\.1\.0/,
      /^restart \(System\.restart\)/,
      /^boot slot=1 v1\.1\.0 state=pending-verify$/,
      /^ota state=0 result=1 detail=image confirmed$/,
      /^after update 1: slot=1 v1\.1\.0 state=valid other=undefined$/,
    ].forEach(next);
    // Update 2: the trial runs without a broker: rolled back as retryable (109, cause 2 network),
    // installed again after the backoff once the broker is back, and confirmed.
    [
      /^offered v1\.2\.0/,
      /^boot slot=0 v1\.2\.0 state=pending-verify$/,
      /^ota state=0 result=109 cause=2 detail=broker not reachable/,
      /^restart \(rollback\)/,
      /^boot slot=1 v1\.1\.0 state=valid$/,
      /^ota state=0 result=109 cause=2 detail=trial 1 of 3 interrupted/,
      /^broker up$/,
      /^boot slot=0 v1\.2\.0 state=pending-verify$/,
      /^ota state=0 result=1 detail=image confirmed$/,
      /^after update 2: slot=0 v1\.2\.0 state=valid/,
    ].forEach(next);
    // Update 3: a build that panics at start, its abort torn by a power cut (ESP-IDF's in-place
    // otadata rewrite): the entry is lost and the reset reads power-on, which could hide a crash,
    // so the version is rejected at once (105, cause 6 unknown) and never installed again (106).
    [
      /^offered v1\.3\.0/,
      /^panic at start$/,
      /^restart \(panic\) reset=1$/,
      /^boot slot=0 v1\.2\.0 state=valid$/,
      /^ota state=0 result=105 cause=6 /,
      /^ota state=0 result=106 /,
      /^after update 3: slot=0 v1\.2\.0 state=valid other=undefined crashes=1$/,
    ].forEach(next);
    expect(lines.filter((l) => l.startsWith("error "))).toEqual([]);
  }, 180_000);
});

/**
 * XS tier, agent level: the ESP32 entry point boots the agent on the Moddable fakes inside XS,
 * connects through Wi-Fi, DNS and ECMA-419 TCP to a virtual broker, publishes telemetry,
 * rides out a broker restart and boots again after System.restart. XS and Node must agree.
 */
import { describe, expect, it } from "vitest";
import { runEsp32Scenario } from "../esp32/bundle";

const SCENARIO = "test/xs/scenarios/esp32-agent.scenario.ts";

describe("the agent on the ESP32 adapters", () => {
  it("boots, publishes telemetry, reconnects and reboots, identically in XS and Node", async () => {
    const { xs, node } = await runEsp32Scenario(SCENARIO);
    expect(xs.lines).toEqual(node.lines);
    const lines = xs.lines;
    const at = (l: string) => Number(/^@(\d+) /.exec(l)?.[1] ?? NaN);
    // Wi-Fi is up at 700 ms (fake AP: 500 ms associate + 200 ms DHCP); the agent starts then.
    expect(lines).toContain("@700 boot v1.0.0 slot=0 reset=power-on");
    // Exact link timing belongs to the link module (power-on jitter, backoff): only order here.
    const online = lines.find((l) => / link online$/.test(l));
    const firstGot = lines.find((l) => /^@\d+ broker got tether\/esp-0001\/telemetry \d+ bytes$/.test(l));
    expect(online, "never online").toBeDefined();
    expect(firstGot, "the broker never got telemetry").toBeDefined();
    expect(at(online!)).toBeLessThan(at(firstGot!));
    // The free heap from tether-memory (the fake's figures) is in the telemetry the broker got.
    expect(lines).toContain('memory {"slotsUsed":1200,"slotsFree":2896,"chunkBytesUsed":30000,"chunkBytesFree":51920}');
    expect(lines.find((l) => l.startsWith("@35000 "))).toMatch(/^@35000 wifi=true sntp=true online=true received=[1-9]\d*$/);
    expect(lines).toContain("@160000 after outage online=true received>2=true");
    // After the restart: a software reset, the sequence counter kept in NVS, online again.
    expect(lines).toContain("@160700 boot v1.0.0 slot=0 reset=software");
    expect(lines.find((l) => l.includes("rebooted"))).toMatch(/^@195000 rebooted online=true nvs=\S+ reset=software$/);
    // The first program's timers died with it: exactly one boot line per boot.
    expect(lines.filter((l) => l.includes(" boot v")).length).toBe(2);
  });
});

/**
 * Real-time fleets over TCP: the agents (booted from their flash images) against Mosquitto on
 * loopback, and `tether sim --broker embedded --shards 2` (aedes in the CLI process, devices in
 * two worker threads). Both must deliver every acknowledged telemetry record.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCli, removeCli } from "../helpers/cli";
import { describe, expect, it } from "vitest";
import { runRealtime } from "../../host-sim/fleet/run";
import { validateScenario } from "../../host-sim/fleet/scenario";
import { startMosquitto } from "../helpers/mosquitto";
import { ROOT } from "./helpers";

const FAST = { drain: "3s", groups: [{ telemetry: { reportInterval: "1s" }, keepAlive: "10s", powerOnDelayMax: "1s" }] };

describe("real-time fleets", () => {
  it("20 agents against Mosquitto deliver every record", async () => {
    const broker = await startMosquitto();
    try {
      const s = await runRealtime({
        devices: 20,
        durationMs: 6_000,
        seed: 4,
        scenario: validateScenario(FAST),
        shards: 1,
        brokers: [`mqtt://127.0.0.1:${broker.port}`],
      });
      expect(s.checks.every((c) => c.ok), JSON.stringify(s.checks)).toBe(true);
      expect(s.telemetry.published).toBeGreaterThan(20 * 3);
      expect(s.telemetry.lost).toBe(0);
      expect(s.realtime?.peakConnectsPerSecond).toBeGreaterThan(0);
    } finally {
      await broker.stop();
    }
  }, 60_000);

  it("tether sim --broker embedded --shards 2 runs devices in worker threads", async () => {
    const cli = await buildCli("fleet-rt");
    const tmp = mkdtempSync(join(tmpdir(), "tether-sim-rt-"));
    const scenario = join(tmp, "fast.json");
    writeFileSync(scenario, JSON.stringify(FAST));
    const out = join(tmp, "summary.json");
    const r = spawnSync(process.execPath, [cli, "sim", "--broker", "embedded", "--devices", "16", "--duration", "6s", "--shards", "2", "--scenario", scenario, "--json", out], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(out, "utf8"));
    expect(s).toMatchObject({ devices: 16, shards: 2, telemetry: { lost: 0 } });
    expect(s.broker).toMatch(/^embedded \(mqtt:\/\/127\.0\.0\.1:\d+\)$/);
    expect(s.telemetry.published).toBeGreaterThan(16 * 3);
    expect(s.replay).toContain("--broker embedded");
    removeCli(cli);
  }, 60_000);
});

/**
 * `tether sim` end to end, as a child process of the real CLI bundle: summary table, --json
 * fields, worker-thread shards (and --shard i/K adding up to the same run), a failing check
 * printing the seed and the replay command, and clear errors for bad input.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, removeCli } from "../helpers/cli";
import { TraceHash } from "../../host-sim/fleet/trace";
import { ROOT } from "./helpers";

let cli = "";
const tmp = mkdtempSync(join(tmpdir(), "tether-sim-test-"));

function sim(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, "sim", ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  cli = await buildCli("fleet");
}, 60_000);
afterAll(() => removeCli(cli));

describe("tether sim", () => {
  it("runs a sharded fleet and writes the summary the issue asks for", () => {
    const json = join(tmp, "two.json");
    const r = sim("--devices", "12", "--duration", "3h", "--seed", "5", "--shards", "2", "--json", json);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/devices\s+12 \(2 shards\)/);
    expect(r.out).toMatch(/ok {4}no acknowledged telemetry lost/);
    const s = JSON.parse(readFileSync(json, "utf8"));
    expect(s).toMatchObject({ devices: 12, shards: 2, seed: 5, simulatedSeconds: 3 * 3600 + 1800, telemetry: { lost: 0, duplicates: 0 } });
    expect(s.replay).toBe("tether sim --devices 12 --duration 3h --seed 5 --shards 2");
    for (const k of ["wallSeconds", "reconnects", "peakReconnectsPerSecond", "traceHash"]) expect(s).toHaveProperty(k);
    for (const k of ["published", "delivered", "lost", "duplicates"]) expect(s.telemetry).toHaveProperty(k);
    for (const k of ["updated", "rolledBack", "deferred", "failed", "bricked"]) expect(s.ota).toHaveProperty(k);
    for (const k of ["alerts", "dead"]) expect(s.battery).toHaveProperty(k);
    expect(s.telemetry.published).toBeGreaterThan(12 * 3 * 50);
    expect(s.telemetry.delivered).toBe(s.telemetry.published);
    // The merged summary says what one thread says about the same fleet (checks recomputed from the shards' counts).
    const one = JSON.parse(sim("--devices", "12", "--duration", "3h", "--seed", "5", "--json", "-").out);
    expect(s.checks).toEqual(one.checks);
    expect(s.checks[0].detail).toBe(`${s.telemetry.published}/${s.telemetry.published} delivered`);
    for (const k of ["telemetry", "ota", "battery", "faults", "boots", "onlineAtEnd", "traceEvents"]) expect(s[k]).toEqual(one[k]);

    // The two shards run on their own as --shard 0/2 and 1/2 make the same run.
    const parts = [0, 1].map((i) => {
      const p = join(tmp, `part${i}.json`);
      expect(sim("--devices", "12", "--duration", "3h", "--seed", "5", "--shard", `${i}/2`, "--json", p).code).toBe(0);
      return JSON.parse(readFileSync(p, "utf8"));
    });
    expect(parts[0].devices + parts[1].devices).toBe(12);
    expect(parts[0].telemetry.published + parts[1].telemetry.published).toBe(s.telemetry.published);
    const combined = new TraceHash();
    for (const p of parts) combined.combine(p.traceHash);
    expect(combined.hex()).toBe(s.traceHash);
  }, 60_000);

  it("shard workers start from their own bundle, without the CLI's brokers, mail and database", () => {
    const shardBundle = readFileSync(join(dirname(cli), "fleet-shard.js"), "utf8");
    const packages = [...shardBundle.matchAll(/^import\b[^;]*?from\s*"([^"]+)"/gm)].map((m) => m[1]).filter((p) => !p.startsWith("node:"));
    expect(packages).toContain("tweetnacl"); // the devices' OTA signature check: the scan sees imports
    const heavy = ["aedes", "mqtt", "nodemailer", "better-sqlite3"];
    for (const p of heavy) expect(packages).not.toContain(p);
    // The CLI bundle does load them (what each worker paid for when it started from that bundle).
    const cliBundle = readFileSync(join(dirname(cli), "tether.js"), "utf8");
    const cliPackages = [...cliBundle.matchAll(/^import\b[^;]*?from\s*"([^"]+)"/gm)].map((m) => m[1]);
    for (const p of heavy) expect(cliPackages).toContain(p);
  });

  it("a failing check prints the seed and the exact replay command, and exits 1", () => {
    const file = join(ROOT, "scenarios", "alarm-mismatch.json");
    const r = sim("--scenario", file, "--seed", "77", "--json", "-");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).checks.find((c: { name: string }) => c.name.startsWith("battery alerts")).ok).toBe(false);
    expect(r.err).toContain("check(s) failed (seed 77); replay with:");
    expect(r.err).toContain(`tether sim --devices 6 --duration 12h --seed 77 --scenario ${file}`);
    // Two shards name the same failures and the same example devices as one thread.
    const two = sim("--scenario", file, "--seed", "77", "--shards", "2", "--json", "-");
    expect(two.code).toBe(1);
    expect(JSON.parse(two.out).checks).toEqual(JSON.parse(r.out).checks);
  }, 60_000);

  it("--xs N runs N devices inside XS: same trace hash, and the summary says what they cost", () => {
    const args = ["--devices", "3", "--duration", "1h", "--seed", "9", "--json", "-"];
    const node = sim(...args);
    const xs = sim(...args, "--xs", "1");
    // Only build progress (another test may be building the ESP32-stack xsnap-worker at the same time).
    expect(xs.err.split("\n").filter((l) => l !== "" && !l.startsWith("build-xsnap: ")).join("\n")).toBe("");
    expect(xs.code).toBe(0);
    const a = JSON.parse(node.out);
    const b = JSON.parse(xs.out);
    expect(a.xs).toBeUndefined();
    expect(b.xs).toMatchObject({ devices: 1, boots: 1 });
    expect(b.xs.computrons).toBeGreaterThan(0);
    expect(b.traceHash).toBe(a.traceHash);
    const tooMany = sim("--devices", "3", "--xs", "4");
    expect(tooMany.code).toBe(2);
    expect(tooMany.err).toContain("--xs 4: more devices in XS than the fleet has (3)");
  }, 120_000);

  it("rejects bad input with clear messages", () => {
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, JSON.stringify({ groups: [{ battery: { capacityMah: 0 } }] }));
    const r = sim("--scenario", bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain("groups[0].battery.capacityMah: expected a positive integer, got 0");
    expect(sim("--duration", "forever").err).toContain('--duration must look like 90s, 15m, 36h or 7d, got "forever"');
    expect(sim("--devices", "0").code).toBe(2);
    expect(sim("--shard", "2/2").err).toContain("--shard must be i/K with 0 ≤ i < K");
    expect(sim("--bogus").code).toBe(2);
    // --devices/--duration that cut the scenario's faults short are refused, not silently ignored.
    const small = sim("--scenario", join(ROOT, "scenarios", "faults-small.json"), "--devices", "4", "--duration", "10h");
    expect(small.code).toBe(1);
    expect(small.err).toContain("faults[10].at: 14h is not before the end of the run (10h)");
    expect(small.err).toContain('ota[1].devices.count: 5 devices asked for, but group "main" has 3 of the fleet\'s 4');
  }, 60_000);
});

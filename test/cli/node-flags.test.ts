/**
 * bin/node-flags.mjs: `tether sim` re-starts Node once with SIM_NODE_FLAGS (V8 fixes heap sizes at
 * start-up). The re-run must happen once, keep argv and stdio, pass the exit code and signals on,
 * and leave a flag the user already gave alone.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { missingNodeFlags, SIM_NODE_FLAGS } from "../../bin/node-flags.mjs";

const flagsModule = new URL("../../bin/node-flags.mjs", import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), "tether-node-flags-"));
// Re-runs itself like bin/tether.js does, then reports what the re-run process saw.
const script = join(dir, "entry.mjs");
writeFileSync(
  script,
  `import { missingNodeFlags, rerunWithNodeFlags } from ${JSON.stringify(flagsModule)};
const args = process.argv.slice(2);
const missing = missingNodeFlags(["--max-semi-space-size=64", "--stack-size=900"]);
if (missing.length > 0) {
  process.exitCode = await rerunWithNodeFlags(process.argv[1], args, missing);
  process.exit();
}
console.log(JSON.stringify({ execArgv: process.execArgv, args, pid: process.pid }));
if (args[0] === "hang") { console.log("ready"); setInterval(() => {}, 1000); }
else process.exitCode = Number(args[0]);
`,
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("node flags for tether sim", () => {
  it("names the flags a process lacks, by name, from execArgv and NODE_OPTIONS", () => {
    expect(SIM_NODE_FLAGS).toEqual(["--max-semi-space-size=64"]);
    expect(missingNodeFlags(["--max-semi-space-size=64"], [], "")).toEqual(["--max-semi-space-size=64"]);
    expect(missingNodeFlags(["--max-semi-space-size=64"], ["--max-semi-space-size=32"], "")).toEqual([]);
    expect(missingNodeFlags(["--max-semi-space-size=64", "--stack-size=900"], [], "--stack-size=500 --inspect")).toEqual(["--max-semi-space-size=64"]);
  });

  it("re-runs once with the missing flags, the same argv and stdio, and passes the exit code on", () => {
    const r = spawnSync(process.execPath, ["--stack-size=800", script, "3", "--password-free", "x y"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(3);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1); // no loop: the re-run process has the flags
    const seen = JSON.parse(lines[0]);
    expect(seen.args).toEqual(["3", "--password-free", "x y"]);
    // The user's own --stack-size is kept, only the missing flag is added.
    expect(seen.execArgv).toEqual(["--stack-size=800", "--max-semi-space-size=64"]);
  });

  it("passes a signal sent to the first process on, and dies by it", async () => {
    const child = spawn(process.execPath, [script, "hang"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    await new Promise<void>((resolve) => child.stdout.on("data", (c: Buffer) => ((out += c), out.includes("ready") && resolve())));
    const grandchild = JSON.parse(out.split("\n")[0]);
    expect(grandchild.execArgv).toContain("--max-semi-space-size=64");
    child.kill("SIGTERM");
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
    expect(code).toBeNull();
    expect(signal).toBe("SIGTERM");
    // The re-run process got it too (it is not left running on its own).
    const alive = () => {
      try {
        process.kill(grandchild.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  }, 20_000);
});

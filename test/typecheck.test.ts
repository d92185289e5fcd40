// Type-checks the three configurations (see tsconfig*.json):
//   tsconfig.device.json    device/core, ports and host-sim/virtual against ES2023 only (no DOM, no @types/node)
//   tsconfig.moddable.json  the same plus device/platform/moddable against @moddable/typings
//   tsconfig.json           host code (platform/node, host-sim, tools, tests, benches) against Node
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../scripts/build.mjs";

const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");

function typecheck(project: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsc, "-p", project, "--pretty", "false"],
      { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024, timeout: 170_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}`.trim() });
      },
    );
  });
}

describe("type-check", () => {
  for (const project of ["tsconfig.device.json", "tsconfig.moddable.json", "tsconfig.json"]) {
    it(`tsc -p ${project}`, { timeout: 180_000 }, async () => {
      const { code, output } = await typecheck(project);
      expect(code, `tsc -p ${project} failed:\n${output}\n`).toBe(0);
    });
  }
});

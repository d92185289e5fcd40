/**
 * Every shell command in docs/esp32.md works as written from a fresh clone, as far as this
 * machine can tell without the Moddable SDK, ESP-IDF or a board:
 * - commands that need none of them run for real (key generation, `npm run flash` as a dry run);
 * - `npm run` scripts exist; `tether` subcommands and flags exist;
 * - the rest (mcconfig, xs-dev, idf.py, mcsim, ...) only reference repository files that a fresh
 *   clone has, or that `npm run build:xs` makes.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/build.mjs";
import { tempDir } from "../helpers/temp";

const DOC = path.join(repoRoot, "docs", "esp32.md");
/** First words of commands that need the Moddable SDK, ESP-IDF, a board or a display. */
const NEEDS_SDK_OR_BOARD = ["npx xs-dev", "mcconfig", "esptool.py", "idf.py", "xvfb-run", "ls $MODDABLE", "ls -l $MODDABLE", "export MODDABLE", "mosquitto_sub"];
/** Made by `npm run build:xs` (scripts/build.mjs). */
const BUILT_BY_BUILD_XS = ["dist/xs/tether-esp32.mjs", "dist/xs/tether-agent.mjs"];

/** The commands of every ```sh block: continuation lines joined, comments dropped. */
export function shellCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = m[1].replace(/\\\n\s*/g, " ");
    for (const line of joined.split("\n")) {
      const cmd = line.replace(/(^|\s)#.*$/, "").trim();
      if (cmd) out.push(cmd);
    }
  }
  return out;
}

/** Repository paths a command mentions (manifests/..., scripts/..., dist/..., device/..., test/...). */
function repoPaths(cmd: string): string[] {
  return [...cmd.matchAll(/(?:^|[\s=])((?:manifests|scripts|dist|device|test|docs)\/[\w./-]+)/g)].map((m) => m[1]);
}

function bash(cmd: string, home: string) {
  return spawnSync("bash", ["-c", cmd], { cwd: repoRoot, encoding: "utf8", env: { ...process.env, HOME: home, MODDABLE: "", IDF_PATH: "" }, timeout: 60_000 });
}

describe("docs/esp32.md shell commands", () => {
  const commands = shellCommands(fs.readFileSync(DOC, "utf8"));
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };

  it("finds the documented commands", () => {
    expect(commands.some((c) => c.startsWith("npm run flash"))).toBe(true);
    expect(commands.some((c) => c.startsWith("npx tether ota keygen"))).toBe(true);
  });

  it("run as written where this machine can (keys made, flash as a dry run), the rest reference files a fresh clone has", () => {
    const home = tempDir("tether-docs-home-");
    const results: string[] = [];
    for (const cmd of commands) {
      const script = /^npm run ([\w:-]+)/.exec(cmd)?.[1];
      if (script !== undefined) expect(pkg.scripts, cmd).toHaveProperty(script);
      if (NEEDS_SDK_OR_BOARD.some((p) => cmd.startsWith(p))) {
        for (const p of repoPaths(cmd)) expect(fs.existsSync(path.join(repoRoot, p)) || BUILT_BY_BUILD_XS.includes(p), `${cmd}: ${p}`).toBe(true);
        results.push(`checked  ${cmd}`);
      } else if (script === "flash") {
        // As written, plus --dry-run: every option parses, every file it reads exists.
        const r = bash(cmd.replace(/^npm run flash --/, `node scripts/flash.mjs`) + " --dry-run", home);
        expect(r.stderr, cmd).toBe("");
        expect(r.status, cmd).toBe(0);
        expect(r.stdout, cmd).not.toMatch(/a secret/);
        results.push(`dry-run  ${cmd}`);
      } else if (/^npx tether ota keygen /.test(cmd)) {
        const r = bash(cmd.replace(/^npx tether/, `node bin/tether.js`), home);
        expect(r.status, `${cmd}\n${r.stderr}`).toBe(0);
        results.push(`ran      ${cmd}`);
      } else if (/^npx tether ota (sign|verify|push) /.test(cmd)) {
        // Needs a built image or a broker: its flags must be ones the CLI takes.
        const usage = bash("node bin/tether.js ota --help", home).stdout;
        for (const flag of cmd.match(/\s--[\w-]+/g) ?? []) expect(usage, `${cmd}: ${flag.trim()}`).toContain(flag.trim());
        results.push(`flags    ${cmd}`);
      } else if (script !== undefined) {
        results.push(`script   ${cmd}`);
      } else {
        throw new Error(`docs/esp32.md: no rule for checking "${cmd}"; add one to test/esp32/docs.test.ts`);
      }
    }
    expect(results.length).toBe(commands.length);
  }, 120_000);
});

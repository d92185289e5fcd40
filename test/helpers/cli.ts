/**
 * Runs the real `tether` CLI in a child process, built once per test file into a private
 * path (so parallel test files never race on dist/), with stdout captured line by line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildHost } from "../../scripts/build.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
/** How long stop() waits after Ctrl-C before SIGKILL (the exit code is then null). */
const STOP_GRACE_MS = 15_000;

/** Builds the CLI into a private directory; remove it with `removeCli` in afterAll. */
export async function buildCli(tag: string): Promise<string> {
  // Under the checkout, not node_modules/.cache: when node_modules is a symlink to another
  // checkout, the bundle's own path would resolve there and find that checkout's dashboard sources.
  const dir = join(ROOT, ".cache", "tether-test-cli", `${tag}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  await buildHost({ outFile: join(dir, "tether.js"), log: () => {} });
  const runner = join(dir, "run.mjs");
  writeFileSync(runner, 'import { main } from "./tether.js";\nprocess.exitCode = await main(process.argv.slice(2));\n');
  return runner;
}

export function removeCli(runner: string): void {
  rmSync(dirname(runner), { recursive: true, force: true });
}

export interface CliProcess {
  child: ChildProcess;
  lines: string[];
  stderr(): string;
  /** Resolves with the first stdout line matching `re` (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** SIGINT, then waits for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

export function runCli(runner: string, args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): CliProcess {
  const child = spawn(process.execPath, [runner, ...args], { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env, uid: options.uid, gid: options.gid });
  const lines: string[] = [];
  let err = "";
  let partial = "";
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => err,
    waitFor(re, ms = 20_000) {
      const hit = lines.find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; stdout:\n${lines.join("\n")}\nstderr:\n${err}`)), ms);
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGINT");
      // A clean Ctrl-C exit includes flushing SQLite and closing the broker; on a loaded
      // machine that took over 5 s once (story test), so allow 15 s before SIGKILL (exit null).
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

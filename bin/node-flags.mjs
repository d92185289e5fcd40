// Node flags a command runs with, applied by re-starting Node once (bin/tether.js), because V8
// reads heap sizes only when it starts: v8.setFlagsFromString at run time has no effect on them.
import { spawn } from "node:child_process";

/**
 * `tether sim`: a 64 MB semi-space (the young generation's half; Node 20's default is 16 MB). A
 * fleet allocates short-lived packets, timers and records per message; with the larger nursery
 * fewer of them survive into the old generation. Measured in bench/results/fleet-semi-space-*.json.
 * Worker threads (--shards) get it too: a V8 flag is process-wide.
 */
export const SIM_NODE_FLAGS = ["--max-semi-space-size=64"];

const flagName = (f) => f.split("=")[0];

/** The flags of `wanted` this process did not start with (nor the user set in NODE_OPTIONS). */
export function missingNodeFlags(wanted, execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? "") {
  const have = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(flagName));
  return wanted.filter((f) => !have.has(flagName(f)));
}

/**
 * Runs `script args` again in a fresh Node with `flags` added, with this process's stdio, and
 * resolves with its exit code. The child's argv is this process's own (nothing new in `ps`); the
 * environment passes through unchanged. A signal to this process is passed on (`tether sim` has no
 * handler of its own: the first SIGINT ends it, so Ctrl-C reaching both through the terminal is
 * harmless).
 */
export function rerunWithNodeFlags(script, args, flags) {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, script, ...args], { stdio: "inherit" });
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      for (const s of signals) process.off(s, forward);
      // Die the way the child died, so a caller's shell sees the same status.
      if (signal) process.kill(process.pid, signal);
      else resolve(code ?? 1);
    });
  });
}

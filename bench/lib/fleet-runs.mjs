// What ab-fleet.mjs and flags-sweep.mjs share: one fresh-process run of bench/lib/profile-fleet.ts
// from a checkout, and the min/median/max of a list.
import { execFileSync } from "node:child_process";
import path from "node:path";

export const PROFILE_DRIVER = path.join("bench", "lib", "profile-fleet.ts");

/** Runs profile-fleet.ts from checkout `dir` under Node `flags`; returns its JSON line. */
export function runFleet(dir, flags, devices, hours) {
  const out = execFileSync(process.execPath, [...flags, path.join(dir, "scripts", "run-ts.mjs"), path.join(dir, PROFILE_DRIVER), String(devices), String(hours), "1"], { cwd: dir, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

export const spread = (xs, digits = 1) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v) => Number(v.toFixed(digits));
  return { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
};

/**
 * Where the wall time of `tether sim` goes outside the fleet run (start-up, firmware build, the
 * shard workers' start, device construction, merge, worker exit): with TETHER_SIM_PHASES=1 in the
 * environment each step writes one stderr line `tether-phase <epoch ms> <label>`, which
 * bench/lib/shard-phases.mjs reads. Off otherwise (the variable is read once, when this module loads).
 */
const ENABLED = typeof process !== "undefined" && process.env.TETHER_SIM_PHASES === "1";
const PREFIX = "tether-phase";

/** Writes one phase line (epoch ms, so lines from the main thread and the workers compare). */
export function markPhase(label: string, atMs = performance.timeOrigin + performance.now()): void {
  if (ENABLED) process.stderr.write(`${PREFIX} ${atMs.toFixed(1)} ${label}\n`);
}

export const phasesEnabled = (): boolean => ENABLED;

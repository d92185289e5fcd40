/** Log port: Moddable's trace(), which goes to xsbug or the serial console (xs-dev --log). */
import type { Log } from "../../ports";

export function createTraceLog(minLevel: "debug" | "info" | "warn" | "error" = "info"): Log {
  const rank = { debug: 0, info: 1, warn: 2, error: 3 } as const;
  return (level, message) => {
    if (rank[level] < rank[minLevel]) return;
    trace(`[${level}] ${message}\n`);
  };
}

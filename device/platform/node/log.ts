/** Log port on Node: timestamped lines on stderr, filtered by level. */
import type { Log } from "../../ports";

const ORDER = { debug: 0, info: 1, warn: 2, error: 3 } as const;

export function consoleLog(prefix: string, minLevel: keyof typeof ORDER = "info"): Log {
  return (level, message) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    process.stderr.write(`${new Date().toISOString()} ${prefix} ${level.padEnd(5)} ${message}\n`);
  };
}

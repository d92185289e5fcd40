/**
 * `tether fleet commission DEVICE [--wait 10m] [--server URL]`: asks the fleet service whether a
 * freshly installed device really works (online, several reports, battery normal, RSSI above the
 * threshold, firmware confirmed), waiting up to --wait for it to pass. Prints the result and what
 * to fix; exit 0 when confirmed, 1 when not. Bearer token from --token-file or TETHER_TOKEN_FILE.
 */
import fs from "node:fs";
import { parseServiceDuration } from "../../service/duration";
import { parseFlags, UsageError } from "../args";

export const COMMISSION_HELP = `usage: tether fleet commission DEVICE [--wait 10m] [--server URL] [--token-file FILE] [--json]

  --wait DURATION     how long to wait for the device to pass (default 0: check once)
  --server URL        the fleet service (default http://127.0.0.1:8080)
  --token-file FILE   bearer token, when the service requires one
  --json              print the result as JSON
`;

/** The longest single HTTP wait the service accepts; longer waits are several calls. */
const MAX_CALL_WAIT_MS = 30 * 60_000;

interface Result {
  deviceId: string;
  ok: boolean;
  atMs: number;
  reasons: string[];
  figures: Record<string, unknown>;
}

export async function runCommission(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    wait: { type: "string" },
    server: { type: "string" },
    "token-file": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(COMMISSION_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one DEVICE id");
  const device = positionals[0];
  const waitMs = values.wait === undefined ? 0 : parseServiceDuration(values.wait);
  if (waitMs === undefined) throw new UsageError(`--wait "${values.wait}": expected a duration like 90s, 10m or 1h`);
  const server = (values.server ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const tokenFile = values["token-file"] ?? process.env.TETHER_TOKEN_FILE;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (tokenFile) headers.authorization = `Bearer ${fs.readFileSync(tokenFile, "utf8").split(/\r?\n/)[0].trim()}`;
  const deadline = Date.now() + waitMs;
  let result: Result;
  for (;;) {
    const left = Math.max(0, deadline - Date.now());
    const wait = Math.min(left, MAX_CALL_WAIT_MS);
    let res: Response;
    try {
      res = await fetch(`${server}/api/devices/${encodeURIComponent(device)}/commission`, { method: "POST", headers, body: JSON.stringify({ wait: `${Math.floor(wait / 1000)}s` }) });
    } catch (err) {
      throw new Error(`cannot reach the fleet service at ${server}: ${(err as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as Result & { error?: string };
    if (res.status !== 200 && res.status !== 422) throw new Error(`${server} answered ${res.status}: ${body.error ?? "no reason given"}`);
    result = body;
    if (result.ok || Date.now() >= deadline) break;
  }
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else if (result.ok) {
    const f = result.figures;
    process.stdout.write(`${device}: confirmed — online, ${f.reports} reports, battery ${f.batteryPct} % ${f.batteryStatus}, RSSI ${f.rssiDbm} dBm, firmware ${f.firmware} confirmed\n`);
  } else {
    process.stdout.write(`${device}: NOT confirmed\n${result.reasons.map((r) => `  - ${r}\n`).join("")}`);
  }
  return result.ok ? 0 : 1;
}

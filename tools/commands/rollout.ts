/**
 * `tether rollout start|status|pause|resume|cancel|list`: a thin client of the fleet service's
 * HTTP API (docs/fleet-service.md). The server validates; errors come back as its message.
 */
import fs from "node:fs";
import path from "node:path";
import { parseFlags, UsageError } from "../args";

const HELP = `usage: tether rollout <start|status|pause|resume|cancel|list|devices> [--server URL] [ID] [options]

  --server URL          the fleet service (default http://127.0.0.1:8080)
  --token-file FILE     bearer token, when the service requires one
  --json                print the server's JSON

start options:
  --bundle DIR          signed bundle (image.bin, manifest.cbor), a path on the service's host
  --target EXPR         e.g. 'firmware < 1.3.0 and group = field' (fields firmware, group, hardware, id)
  --canary N            devices in the canary (default 20)
  --waves LIST          cumulative waves, e.g. 5%,25%,100% (default)
  --rate R              offers per minute, e.g. 100/min (default)
  --exp-base R --exp-factor F (--exp-notified N | --exp-succeeded N)
                        AWS IoT Jobs exponential rate: start at R/min, ×F after every N notified/succeeded
  --max-failure P       halt when failures exceed P of executed devices (default 5%)
  --min-executed N      ... once at least N executed (default 20)
  --timeout D           in-progress timeout, e.g. 30m (default)
  --soak D              soak after each wave before the next, e.g. 2h (default)
  --success-threshold P share of a wave's offered devices that must succeed (default 80%)
  --min-battery P       central precondition (default 30%)
  --max-retries N       re-offers after a stalled download or flash error (default 2)
  --max-interrupted N   power/network-cut trials tolerated per device (default 3)
  --health-margin P     how much worse the new version may be (default 20%)
  --health-min-devices N  devices per cohort before the comparison counts (default 10)
  --rollback-on-halt --rollback-bundle DIR
                        on halt, offer DIR (the previous code, signed with a higher version) to updated devices
`;

const DEFAULT_SERVER = "http://127.0.0.1:8080";

export async function runRollout(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "help" || sub === "--help") {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const { values, positionals } = parseFlags(rest, {
    server: { type: "string" },
    "token-file": { type: "string" },
    json: { type: "boolean" },
    bundle: { type: "string" },
    target: { type: "string" },
    canary: { type: "string" },
    waves: { type: "string" },
    rate: { type: "string" },
    "exp-base": { type: "string" },
    "exp-factor": { type: "string" },
    "exp-notified": { type: "string" },
    "exp-succeeded": { type: "string" },
    "max-failure": { type: "string" },
    "min-executed": { type: "string" },
    timeout: { type: "string" },
    soak: { type: "string" },
    "success-threshold": { type: "string" },
    "min-battery": { type: "string" },
    "max-retries": { type: "string" },
    "max-interrupted": { type: "string" },
    "health-margin": { type: "string" },
    "health-min-devices": { type: "string" },
    "rollback-on-halt": { type: "boolean" },
    "rollback-bundle": { type: "string" },
    state: { type: "string" },
  });
  const server = (values.server ?? DEFAULT_SERVER).replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+$/.test(server)) throw new UsageError(`--server "${server}": expected http://HOST:PORT`);
  const token = values["token-file"] ? fs.readFileSync(values["token-file"], "utf8").split(/\r?\n/)[0].trim() : undefined;
  const call = async (method: string, p: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${server}${p}`, {
        method,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(`cannot reach the fleet service at ${server} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); is 'tether fleet serve' running?`);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, any>;
    if (!res.ok) throw new Error(`${res.status}: ${json.error ?? res.statusText}`);
    return json;
  };
  const out = (json: unknown, text: () => string) => process.stdout.write(values.json ? JSON.stringify(json, null, 2) + "\n" : text() + "\n");
  const needId = () => {
    if (positionals.length !== 1) throw new UsageError(`${sub} needs one rollout ID (see 'tether rollout list')`);
    return positionals[0];
  };
  switch (sub) {
    case "start": {
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
      if (!values.bundle || !values.target) throw new UsageError("start needs --bundle DIR and --target EXPR");
      const int = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
        return Number(v);
      };
      const body: Record<string, unknown> = {
        bundle: path.resolve(values.bundle), target: values.target, canary: int(values.canary, "canary"), waves: values.waves, rate: values.rate,
        maxFailure: values["max-failure"], minExecuted: int(values["min-executed"], "min-executed"), timeout: values.timeout, soak: values.soak,
        successThreshold: values["success-threshold"], minBattery: values["min-battery"], maxRetries: int(values["max-retries"], "max-retries"),
        maxInterrupted: int(values["max-interrupted"], "max-interrupted"), healthMargin: values["health-margin"],
        healthMinDevices: int(values["health-min-devices"], "health-min-devices"),
        rollbackOnHalt: values["rollback-on-halt"] ? true : undefined,
        rollbackBundle: values["rollback-bundle"] ? path.resolve(values["rollback-bundle"]) : undefined,
      };
      if (values["exp-base"] || values["exp-factor"]) {
        body.exponential = {
          baseRatePerMinute: Number(values["exp-base"]), incrementFactor: Number(values["exp-factor"]),
          notifiedThreshold: int(values["exp-notified"], "exp-notified"), succeededThreshold: int(values["exp-succeeded"], "exp-succeeded"),
        };
      }
      for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
      const r = await call("POST", "/api/rollouts", body);
      out(r, () => `rollout ${r.id} started: ${r.devices} devices${r.skipped ? ` (${r.skipped} skipped: in another rollout)` : ""}\n${formatStatus(r.rollout)}`);
      return 0;
    }
    case "status": {
      const r = await call("GET", `/api/rollouts/${encodeURIComponent(needId())}`);
      out(r, () => formatStatus(r));
      return 0;
    }
    case "devices": {
      const q = values.state ? `?state=${encodeURIComponent(values.state)}` : "";
      const r = await call("GET", `/api/rollouts/${encodeURIComponent(needId())}/devices${q}`);
      out(r, () => (r.devices as Record<string, unknown>[]).map((d) => `${d.deviceId}  wave ${d.wave}  ${d.state}${d.result !== null ? ` (${d.result})` : ""}${d.detail ? `  ${d.detail}` : ""}`).join("\n"));
      return 0;
    }
    case "pause":
    case "resume":
    case "cancel": {
      const r = await call("POST", `/api/rollouts/${encodeURIComponent(needId())}/${sub}`);
      out(r, () => formatStatus(r));
      return 0;
    }
    case "list": {
      const r = await call("GET", "/api/rollouts");
      const rows = r.rollouts as Record<string, unknown>[];
      out(r, () => (rows.length === 0 ? "no rollouts" : rows.map((x) => `${x.id}  ${x.status}  v${version(x.version as number)}  wave ${x.wave}  ${x.succeeded}/${x.total} succeeded, ${x.failures} failed${x.halt ? `  halted: ${x.halt}` : ""}  '${x.target}'`).join("\n")));
      return 0;
    }
    default:
      throw new UsageError(`unknown subcommand "${sub}" (start, status, pause, resume, cancel, list, devices)`);
  }
}

function version(n: number): string {
  return `${Math.floor(n / 1e6)}.${Math.floor(n / 1e3) % 1e3}.${n % 1e3}`;
}

/** The status as text: state, counts, waves, and the halt rule with its numbers. */
export function formatStatus(r: Record<string, any>): string {
  const lines = [`${r.id}  ${r.status}  version ${version(r.version)}  target '${r.target}'`];
  const c = r.counts;
  lines.push(`  devices ${c.total}: ${Object.entries(c.byState as Record<string, number>).map(([k, v]) => `${v} ${k}`).join(", ")}`);
  lines.push(`  executed ${c.executed}, failures ${c.failures}, interrupted by power/network (apart) ${c.interruptedApart}`);
  for (const w of r.waves as Record<string, any>[]) {
    const mark = w.wave === r.wave ? (r.waveSucceededAt !== null ? " <- soaking" : " <- current") : "";
    lines.push(`  wave ${w.wave} (${w.name}, up to ${w.upTo}): ${w.devices} devices, ${Object.entries(w.byState as Record<string, number>).map(([k, v]) => `${v} ${k}`).join(", ") || "-"}${mark}`);
  }
  if (r.halt) {
    lines.push(`  HALTED by rule ${r.halt.rule}:`);
    lines.push(`    ${JSON.stringify(r.halt.detail)}`);
  }
  return lines.join("\n");
}

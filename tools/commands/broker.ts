/** `tether broker credentials`: per-device MQTT accounts, a Mosquitto password file and ACL (docs/security.md). */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isDeviceId } from "../../device/core/topics";
import { parseFlags, UsageError } from "../args";
import { planCredentials, writeCredentials, type CredentialResult, type ListenerPlan } from "../broker/credentials";
import { gitRootOf } from "../ota/keys";
import { PASSWORD_ENV } from "../connect-flags";

const HELP = `usage: tether broker credentials --out DIR (--device ID ... | --devices-file FILE) [options]

Writes, for Mosquitto 2:
  DIR/secrets/<user>.password  one random password per account (0600): hand each to its device or service
                               (tether device --user ID --password-file FILE, or ${PASSWORD_ENV})
  DIR/passwd                   the password file (PBKDF2-SHA512, what mosquitto_passwd writes)
  DIR/acl                      an ACL where each device reads and writes only tether/<its id>/...
  DIR/mosquitto.conf           a configuration using them: allow_anonymous false, password_file, acl_file, and
                               one listener with use_username_as_clientid true (TLS with --tls-*): mosquitto -c it
Run it again to add devices: existing passwords are kept.

  --out DIR           where to write (refused inside a git work tree: it holds secrets)
  --device ID         a device account (user name = device id); repeatable
  --devices-file FILE device ids, one per line (# comments)
  --backend NAME      the backend's account (the fleet service, tether ota push); default "fleet"; repeatable
  --rotate USER       give USER a new password; repeatable
  --listen HOST:PORT  the listener in mosquitto.conf (default 127.0.0.1:8883 with TLS, 127.0.0.1:1883 without);
                      without --listen and --tls-*, an existing mosquitto.conf is kept
  --tls-ca FILE --tls-cert FILE --tls-key FILE
                      PEM CA, server certificate and key for a TLS listener (all three)
  --dry-run           say what would be written; writes nothing
  --json              print the result as JSON (never a password)
`;

export async function runBroker(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "help") {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "credentials") throw new UsageError(`unknown subcommand "${sub}" (try: tether broker credentials --help)`);
  const { values, positionals } = parseFlags(rest, {
    out: { type: "string" },
    device: { type: "string", multiple: true },
    "devices-file": { type: "string" },
    backend: { type: "string", multiple: true },
    rotate: { type: "string", multiple: true },
    listen: { type: "string" },
    "tls-ca": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.out === undefined) throw new UsageError("--out DIR is required");
  const devices = [...(values.device ?? []), ...(values["devices-file"] ? readIds(values["devices-file"]) : [])];
  if (devices.length === 0) throw new UsageError("give at least one --device ID or a --devices-file");
  const backends = values.backend ?? ["fleet"];
  for (const [what, id] of [...devices.map((d) => ["device", d]), ...backends.map((b) => ["backend", b])]) {
    if (!isDeviceId(id)) throw new UsageError(`${what} "${id}" is not a valid account name: 1 to 48 characters of A-Z a-z 0-9 . _ -`);
  }
  const dup = [...devices, ...backends].find((u, i, all) => all.indexOf(u) !== i);
  if (dup !== undefined) throw new UsageError(`"${dup}" is named twice (a device and a backend cannot share an account)`);
  const rotate = values.rotate ?? [];
  for (const r of rotate) if (!devices.includes(r) && !backends.includes(r)) throw new UsageError(`--rotate ${r}: not among the accounts given`);
  const repo = gitRootOf(values.out);
  if (repo !== undefined) throw new UsageError(`refusing to write broker secrets inside the git work tree ${repo}; choose a directory outside it`);

  const plan = { devices, backends, rotate, listener: listenerPlan(values) };
  const result = values["dry-run"] ? planCredentials(values.out, plan) : writeCredentials(values.out, plan);
  print(result, values["dry-run"] ?? false, values.json ?? false);
  return 0;
}

/** The listener the flags ask for, or undefined when none is given (an existing mosquitto.conf is kept). */
function listenerPlan(v: { listen?: string; "tls-ca"?: string; "tls-cert"?: string; "tls-key"?: string }): ListenerPlan | undefined {
  const files = [v["tls-ca"], v["tls-cert"], v["tls-key"]];
  if (files.some((f) => f !== undefined) && files.some((f) => f === undefined)) throw new UsageError("a TLS listener needs all of --tls-ca, --tls-cert and --tls-key");
  for (const f of files) if (f !== undefined && !existsSync(f)) throw new UsageError(`${f}: no such file`);
  if (v.listen === undefined && files.every((f) => f === undefined)) return undefined;
  const tls = v["tls-ca"] && v["tls-cert"] && v["tls-key"] ? { ca: path.resolve(v["tls-ca"]), cert: path.resolve(v["tls-cert"]), key: path.resolve(v["tls-key"]) } : undefined;
  const m = /^(.+):(\d{1,5})$/.exec(v.listen ?? `127.0.0.1:${tls ? 8883 : 1883}`);
  if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`--listen must be HOST:PORT, got "${v.listen}"`);
  return { host: m[1], port: Number(m[2]), tls };
}

function readIds(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--devices-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l.length > 0);
}

function print(r: CredentialResult, dryRun: boolean, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify({ dryRun, ...r }, null, 2) + "\n");
    return;
  }
  const say = (s: string) => process.stdout.write(s + "\n");
  say(`${dryRun ? "would write" : "wrote"} broker credentials in ${path.resolve(r.dir)}:`);
  for (const a of r.accounts) say(`  ${a.role.padEnd(7)} ${a.user.padEnd(20)} password ${a.password.padEnd(7)} ${a.file}`);
  for (const f of r.files) say(`  ${f}`);
  if (!dryRun) say(`Mosquitto: mosquitto -c ${path.join(path.resolve(r.dir), "mosquitto.conf")} (docs/security.md)`);
}

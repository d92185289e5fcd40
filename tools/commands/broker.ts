/** `tether broker credentials`: per-device MQTT accounts, a Mosquitto password file and ACL (docs/security.md). */
import { readFileSync } from "node:fs";
import path from "node:path";
import { DEVICE_ID_PATTERN } from "../../device/core/topics";
import { parseFlags, UsageError } from "../args";
import { planCredentials, writeCredentials, type CredentialResult } from "../broker/credentials";
import { gitRootOf } from "../ota/keys";
import { PASSWORD_ENV } from "../connect-flags";

const HELP = `usage: tether broker credentials --out DIR (--device ID ... | --devices-file FILE) [options]

Writes, for Mosquitto 2:
  DIR/secrets/<user>.password  one random password per account (0600): hand each to its device or service
                               (tether device --user ID --password-file FILE, or ${PASSWORD_ENV})
  DIR/passwd                   the password file (PBKDF2-SHA512, what mosquitto_passwd writes)
  DIR/acl                      an ACL where each device reads and writes only tether/<its id>/...
  DIR/mosquitto.conf           allow_anonymous false, password_file, acl_file, use_username_as_clientid true
Run it again to add devices: existing passwords are kept.

  --out DIR           where to write (refused inside a git work tree: it holds secrets)
  --device ID         a device account (user name = device id); repeatable
  --devices-file FILE device ids, one per line (# comments)
  --backend NAME      the backend's account (the fleet service, tether ota push); default "fleet"; repeatable
  --rotate USER       give USER a new password; repeatable
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
    if (!DEVICE_ID_PATTERN.test(id)) throw new UsageError(`${what} "${id}" is not a valid account name: 1 to 48 characters of A-Z a-z 0-9 . _ -`);
  }
  const dup = [...devices, ...backends].find((u, i, all) => all.indexOf(u) !== i);
  if (dup !== undefined) throw new UsageError(`"${dup}" is named twice (a device and a backend cannot share an account)`);
  const rotate = values.rotate ?? [];
  for (const r of rotate) if (!devices.includes(r) && !backends.includes(r)) throw new UsageError(`--rotate ${r}: not among the accounts given`);
  const repo = gitRootOf(values.out);
  if (repo !== undefined) throw new UsageError(`refusing to write broker secrets inside the git work tree ${repo}; choose a directory outside it`);

  const plan = { devices, backends, rotate };
  const result = values["dry-run"] ? planCredentials(values.out, plan) : writeCredentials(values.out, plan);
  print(result, values["dry-run"] ?? false, values.json ?? false);
  return 0;
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
  if (!dryRun) say(`Mosquitto: add the lines of ${path.join(r.dir, "mosquitto.conf")} to its configuration (docs/security.md).`);
}

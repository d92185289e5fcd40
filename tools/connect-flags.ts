/**
 * Broker connection flags shared by the commands that connect (`device`, `ota push`): broker
 * URLs, credentials and the CA. Secrets never come from the command line (every user of the
 * machine can read it in `ps`): the password is read from $TETHER_PASSWORD or --password-file.
 * Everything is checked here, before anything starts, so a mistake is one clear error instead
 * of a reconnect loop.
 */
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { BrokerUrlError, parseBrokerUrl, type BrokerTarget } from "../device/core/util/broker-url";
import { UsageError } from "./args";

/** The environment variable a password may come from. */
export const PASSWORD_ENV = "TETHER_PASSWORD";
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The parseArgs options these flags add (`--password` is taken only to refuse it with advice). */
export const CONNECT_OPTIONS = {
  broker: { type: "string", multiple: true },
  user: { type: "string" },
  "password-file": { type: "string" },
  password: { type: "string" },
  ca: { type: "string" },
} as const;

export const CONNECT_HELP = `  --broker URL     mqtt://host:port or mqtts://host:port; repeat for fail-over (a user name may be in
                   the URL, a password may not)
  --user NAME      MQTT user name
  --password-file FILE  read the MQTT password from FILE (first line); or set ${PASSWORD_ENV}
  --ca FILE        PEM CA certificate(s) trusted for mqtts:// (default: the system's CAs)
`;

export interface ConnectFlags {
  broker?: string[];
  user?: string;
  "password-file"?: string;
  password?: string;
  ca?: string;
}

export interface Connection {
  /** The brokers as parsed (url redacted: safe to print). */
  targets: BrokerTarget[];
  username?: string;
  password?: string;
  /** PEM text of the CA file, checked to hold at least one certificate. */
  caCert?: string;
  /** The URLs with the credentials added, for the agent (never printed, never in argv). */
  urlsWithCredentials(): string[];
}

export function resolveConnection(flags: ConnectFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  if (flags.password !== undefined) {
    throw new UsageError(`--password is not accepted: a command line is visible to every user in \`ps\`. Set ${PASSWORD_ENV} or use --password-file FILE`);
  }
  const urls = flags.broker ?? [];
  if (urls.length === 0) throw new UsageError("--broker is required (e.g. mqtt://127.0.0.1:1883)");
  const targets = urls.map(refusePasswordInUrl);

  const password = readPassword(flags["password-file"], env);
  const urlUsers = new Set(targets.map((t) => t.username).filter((u) => u !== undefined));
  if (flags.user !== undefined && flags.user.length === 0) throw new UsageError("--user is empty");
  if (flags.user !== undefined && urlUsers.size > 0 && [...urlUsers].some((u) => u !== flags.user)) {
    throw new UsageError("--user differs from the user name in a broker URL; give it one way");
  }
  const username = flags.user ?? (urlUsers.size === 1 ? [...urlUsers][0] : undefined);
  if (urlUsers.size > 1 && flags.user === undefined) throw new UsageError("the broker URLs name different users; give one --user");
  if (password !== undefined && username === undefined) {
    // MQTT 3.1.1 §3.1.2.9: a password without a user name is a protocol violation; brokers close the connection.
    throw new UsageError("a password needs a user name: add --user NAME");
  }

  let caCert: string | undefined;
  if (flags.ca !== undefined) {
    if (!targets.some((t) => t.tls)) throw new UsageError("--ca applies to mqtts:// brokers only; every --broker here is mqtt://");
    caCert = readCa(flags.ca);
  }

  return {
    targets,
    username,
    password,
    caCert,
    urlsWithCredentials: () => urls.map((url) => withCredentials(url, username, password)),
  };
}

/** Parses a broker URL given on the command line, refusing one that carries a password (argv is public). */
export function refusePasswordInUrl(url: string): BrokerTarget {
  let t: BrokerTarget;
  try {
    t = parseBrokerUrl(url);
  } catch (e) {
    throw new UsageError(e instanceof BrokerUrlError ? e.message : String(e));
  }
  if (t.password !== undefined) {
    throw new UsageError(`broker URL "${t.url}" carries a password, which every user can read in \`ps\`; set ${PASSWORD_ENV} or use --password-file FILE`);
  }
  return t;
}

/** The password from --password-file or $TETHER_PASSWORD (one of them), or undefined. */
function readPassword(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env[PASSWORD_ENV];
  if (file !== undefined && fromEnv !== undefined) throw new UsageError(`both --password-file and ${PASSWORD_ENV} are set; give the password one way`);
  if (file === undefined) {
    if (fromEnv === undefined) return undefined;
    if (fromEnv.length === 0) throw new UsageError(`${PASSWORD_ENV} is set but empty`);
    return fromEnv;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--password-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const password = text.split(/\r?\n/)[0];
  if (password.length === 0) throw new UsageError(`--password-file ${file}: the first line is empty`);
  return password;
}

/** The CA file's text, refused unless it holds PEM certificates that parse. */
export function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--ca ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const certs = pem.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new UsageError(`--ca ${file}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  for (const [i, cert] of certs.entries()) {
    try {
      new X509Certificate(cert);
    } catch (e) {
      throw new UsageError(`--ca ${file}: certificate ${i + 1} does not parse (${(e as Error).message})`);
    }
  }
  return pem;
}

/** Adds the user name and password to a URL (for the agent, which takes credentials in its URLs). */
function withCredentials(url: string, user?: string, password?: string): string {
  if (user === undefined) return url;
  const auth = encodeURIComponent(user) + (password === undefined ? "" : `:${encodeURIComponent(password)}`);
  return url.replace(/^(mqtts?:\/\/)(?:[^@/]*@)?/, `$1${auth}@`);
}

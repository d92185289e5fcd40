/**
 * `tether ota keygen|sign|verify|push`. The lead's CLI dispatches `tether ota ...` here:
 * `process.exitCode = await runOtaCommand(argv)` with argv after "ota".
 */
import fs from "node:fs";
import path from "node:path";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { OtaResult, resultName } from "../../device/core/ota/codes";
import { resolveConnection } from "../connect-flags";
import { allowedBlockSizes, blockSizeProblem, bundleLimitProblem } from "./limits";
import { slotImageVersionMismatch, versionMismatch } from "./embedded-version";
import { versionNumber } from "../../device/core/ota/version";
import { createBundle, DEFAULT_BLOCK_SIZE } from "./bundle";
import { readBundle, writeBundle } from "./bundle-files";
import { checkBundle } from "./check";
import { keygen, readPublicKey, readSecretKey } from "./keys";
import { pushBundle } from "./push";

const USAGE = `tether ota <command>
  keygen --out PATH                 writes PATH.key (secret, 0600, refused inside a git work tree) and PATH.pub
  sign   --key PATH.key --image FILE --version V --hardware ID --counter N
         [--expiry ISO8601|UNIX] [--block-size N] [--format tether|raw] --out DIR
                                    writes DIR/{image.bin,manifest.cbor,manifest.json}; --format tether (default)
                                    wraps FILE as a Tether slot image, raw signs FILE as is (an ESP-IDF app .bin)
  verify --bundle DIR --pub PATH.pub [--hardware ID] [--running-version V] [--counter N] [--slot-size N] [--now UNIX]
         [--format tether|esp-idf|raw]     (image format check; default: tether when the image has its header)
                                    checks the bundle as a device does; prints why it rejects one (exit 1)
  push   --broker URL --bundle DIR --device ID [--wait SECONDS] [--clear] [--user NAME] [--password-file FILE] [--ca FILE]
                                    publishes blocks and manifest (retained, QoS 1); --wait follows the device's status;
                                    --clear (with --wait) then clears the offer, and the image's blocks unless another
                                    device's retained offer names the image;
                                    the password comes from --password-file or $TETHER_PASSWORD, never the command line
Block sizes a device accepts: ${allowedBlockSizes().join(", ")} (whole flash erase blocks, one block per MQTT message).
Versions: an integer, or MAJOR.MINOR.PATCH (= MAJOR*1000000 + MINOR*1000 + PATCH).`;

type Flags = Map<string, string | true>;

/** The flags each subcommand takes: anything else is a mistake worth stopping for (a typo would silently use a default). */
const KNOWN_FLAGS: Record<string, readonly string[]> = {
  keygen: ["out"],
  sign: ["key", "image", "version", "hardware", "counter", "expiry", "block-size", "format", "out"],
  verify: ["bundle", "pub", "hardware", "running-version", "counter", "slot-size", "now", "format"],
  push: ["broker", "bundle", "device", "wait", "clear", "user", "password-file", "password", "ca"],
};

function parseFlags(cmd: string, args: string[]): Flags {
  const known = KNOWN_FLAGS[cmd] ?? [];
  const f: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    if (!known.includes(a.slice(2))) throw new Error(`unknown option "${a}" for "ota ${cmd}" (takes: ${known.map((k) => `--${k}`).join(" ")})`);
    const next = args[i + 1];
    if (next === undefined || next.startsWith("--")) f.set(a.slice(2), true);
    else f.set(a.slice(2), args[++i]);
  }
  return f;
}

function need(f: Flags, k: string): string {
  const v = f.get(k);
  if (typeof v !== "string") throw new Error(`missing --${k}`);
  return v;
}

function opt(f: Flags, k: string): string | undefined {
  const v = f.get(k);
  if (v === true) throw new Error(`--${k} needs a value`);
  return v;
}


function parseFormat(s: string, allowed: string[]): string {
  if (!allowed.includes(s)) throw new Error(`format "${s}": one of ${allowed.join(", ")}`);
  return s;
}

function parseUint(s: string, what: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 0xffffffff) throw new Error(`${what} "${s}": an unsigned 32-bit integer`);
  return Number(s);
}

/** At most a week: beyond 2^31-1 ms a Node timer fires at once. */
const MAX_WAIT_SECONDS = 7 * 86_400;

function parseWait(s: string): number {
  const n = parseUint(s, "wait");
  if (n > MAX_WAIT_SECONDS) throw new Error(`--wait ${s}: at most ${MAX_WAIT_SECONDS} seconds (a week)`);
  return n;
}

function parseExpiry(s: string): number {
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`expiry "${s}": ISO 8601 or Unix seconds`);
  return Math.floor(t / 1000);
}

export async function runOtaCommand(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (!cmd || cmd === "help" || cmd === "--help") {
      out(USAGE);
      return cmd ? 0 : 2;
    }
    const f = parseFlags(cmd, rest);
    switch (cmd) {
      case "keygen": {
        const files = keygen(need(f, "out"));
        out(`secret key: ${files.secretPath} (keep it off devices and out of the repository)`);
        out(`public key: ${files.publicPath}`);
        return 0;
      }
      case "sign": {
        const payload = new Uint8Array(fs.readFileSync(need(f, "image")));
        const expiry = opt(f, "expiry");
        const format = parseFormat(opt(f, "format") ?? "tether", ["tether", "raw"]) as "tether" | "raw";
        const blockSize = parseUint(opt(f, "block-size") ?? String(DEFAULT_BLOCK_SIZE), "block size");
        const badBlock = blockSizeProblem(blockSize);
        if (badBlock !== undefined) throw new Error(`not signing: ${badBlock}`);
        const b = createBundle(
          payload,
          {
            version: versionNumber(need(f, "version")),
            hardwareId: need(f, "hardware"),
            securityCounter: parseUint(need(f, "counter"), "counter"),
            expiry: expiry === undefined ? undefined : parseExpiry(expiry),
            blockSize,
            format,
          },
          readSecretKey(need(f, "key")),
          nodeSha256,
        );
        // Refuse what a device would refuse: written bundles are meant to be pushed.
        const refused = bundleLimitProblem(b.envelope, b.manifest) ?? (format === "tether" ? versionMismatch(payload, b.manifest.version) : undefined);
        if (refused !== undefined) throw new Error(`not signing: ${refused}`);
        const dir = need(f, "out");
        writeBundle(dir, b);
        out(`bundle ${path.resolve(dir)}: version ${b.manifest.version}, ${b.image.length} bytes, ${b.manifest.blockHashes.length / 32} blocks`);
        return 0;
      }
      case "verify": {
        const { image, envelope } = readBundle(need(f, "bundle"));
        const num = (k: string) => (opt(f, k) === undefined ? undefined : parseUint(opt(f, k)!, k));
        const rv = opt(f, "running-version");
        const r = checkBundle(envelope, image, [readPublicKey(need(f, "pub"))], nodeSha256, {
          hardwareId: opt(f, "hardware"),
          runningVersion: rv === undefined ? undefined : versionNumber(rv),
          securityCounter: num("counter"),
          slotSize: num("slot-size"),
          nowSeconds: num("now"),
          format: opt(f, "format") === undefined ? undefined : (parseFormat(opt(f, "format")!, ["tether", "esp-idf", "raw"]) as "tether" | "esp-idf" | "raw"),
        });
        // Past what verifyOffer checks: messages the device could not receive, a version the image contradicts.
        const flagged = r.ok ? (bundleLimitProblem(envelope, r.manifest) ?? slotImageVersionMismatch(image, r.manifest.version)) : undefined;
        if (flagged !== undefined) {
          out(`REJECTED ${OtaResult.UnsupportedPackage} (${resultName(OtaResult.UnsupportedPackage)}): ${flagged}`);
          return 1;
        }
        if (r.ok) {
          out(`OK: version ${r.manifest.version} for ${r.manifest.hardwareId}, ${r.manifest.length} bytes, security counter ${r.manifest.securityCounter}`);
          return 0;
        }
        out(`REJECTED ${r.result} (${r.name}): ${r.detail}`);
        return 1;
      }
      case "push": {
        const { image, envelope } = readBundle(need(f, "bundle"));
        const wait = opt(f, "wait");
        const password = opt(f, "password");
        const conn = resolveConnection({ broker: [need(f, "broker")], user: opt(f, "user"), "password-file": opt(f, "password-file"), password, ca: opt(f, "ca") });
        const r = await pushBundle({
          broker: conn.targets[0].url,
          username: conn.username,
          password: conn.password,
          ca: conn.caCert,
          deviceId: need(f, "device"),
          envelope,
          image,
          waitSeconds: wait === undefined ? 0 : parseWait(wait),
          clear: f.get("clear") === true,
          log: out,
        });
        if (r.status) out(`device result: ${r.status.result} (${resultName(r.status.result)})`);
        return r.ok ? 0 : 1;
      }
      default:
        err(`unknown command "${cmd}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    err(`tether ota ${cmd}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

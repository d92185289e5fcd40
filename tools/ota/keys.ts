/**
 * Key files for `tether ota`: the secret key is JSON with mode 0600 and is refused inside a git
 * work tree, so it cannot be committed by accident; the public key is one hex line that goes
 * into the device build (OtaOptions.trustedKeys). The secret never goes to a device.
 */
import fs from "node:fs";
import path from "node:path";
import nacl from "tweetnacl";
import { fromHex, toHex } from "../../device/core/ota/bytes";

export interface KeyFiles {
  secretPath: string;
  publicPath: string;
}

/** The enclosing git work tree of `p`, if any. */
export function gitRootOf(p: string): string | undefined {
  let dir = path.resolve(p);
  for (;;) {
    if (fs.existsSync(path.join(dir, ".git"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function keygen(outBase: string, opts: { allowInRepo?: boolean; seed?: Uint8Array } = {}): KeyFiles {
  const secretPath = `${outBase}.key`;
  const publicPath = `${outBase}.pub`;
  const repo = gitRootOf(path.dirname(path.resolve(secretPath)));
  if (repo && !opts.allowInRepo) {
    throw new Error(`refusing to write a private key inside the git work tree ${repo}; choose a path outside it (e.g. ~/.tether/ota)`);
  }
  for (const p of [secretPath, publicPath]) {
    // lstat, not exists: a dangling symbolic link "does not exist", yet writing through it would put the key wherever it points.
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) throw new Error(`${p} is a symbolic link; not writing a key through it`);
    if (st !== undefined) throw new Error(`${p} exists; not overwriting a key`);
  }
  const kp = opts.seed ? nacl.sign.keyPair.fromSeed(opts.seed) : nacl.sign.keyPair();
  fs.mkdirSync(path.dirname(path.resolve(secretPath)), { recursive: true });
  // "wx" (O_CREAT|O_EXCL): fails on anything at the path, a symbolic link made since the check included.
  fs.writeFileSync(secretPath, JSON.stringify({ type: "tether-ota-ed25519-secret", secretKey: toHex(kp.secretKey) }) + "\n", { mode: 0o600, flag: "wx" });
  fs.writeFileSync(publicPath, toHex(kp.publicKey) + "\n", { flag: "wx" });
  return { secretPath, publicPath };
}

export function readSecretKey(p: string): Uint8Array {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(p, "utf8"));
  } catch (e) {
    throw new Error(`${p}: not a tether secret key file (${(e as Error).message})`);
  }
  const hex = (j as { secretKey?: unknown }).secretKey;
  if (typeof hex !== "string" || hex.length !== 128) throw new Error(`${p}: no 64-byte secretKey`);
  return fromHex(hex);
}

export function readPublicKey(p: string): Uint8Array {
  const hex = fs.readFileSync(p, "utf8").trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${p}: a public key file holds 64 hex digits`);
  return fromHex(hex);
}

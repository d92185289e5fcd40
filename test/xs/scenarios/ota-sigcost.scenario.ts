/**
 * The cost of the device's one signature check per offer, in XS computrons: tweetnacl (what
 * the device uses) against @noble/ed25519 v3 (sync, SHA-512 from tweetnacl) on the same
 * manifest. Used by bench/ota.bench.ts; lines are `<name> <number>`.
 */
import nacl from "tweetnacl";
import * as noble from "@noble/ed25519";
import type { ScenarioHost } from "../scenario-host";
import { jsSha256 } from "../../../host-sim/virtual/sha256";
import { createBundle, keyPairFromSeed } from "../../../tools/ota/bundle";
import { parseEnvelope } from "../../../device/core/ota/manifest";

export function run(host: ScenarioHost): void {
  const key = keyPairFromSeed(new Uint8Array(32).fill(7));
  // A manifest for a 1.5 MB image: 384 block hashes.
  const image = new Uint8Array(1_572_864 - 64);
  for (let i = 0; i < image.length; i += 997) image[i] = i & 0xff;
  host.meter();
  const env = parseEnvelope(createBundle(image, { version: 2, hardwareId: "tether-devkit", securityCounter: 1 }, key.secretKey, jsSha256).envelope);
  host.meter(); // building the bundle (JS SHA-256 of 1.5 MB) is not what is measured
  noble.hashes.sha512 = ((m: Uint8Array) => nacl.hash(m)) as typeof noble.hashes.sha512;

  host.meter();
  const a = nacl.sign.detached.verify(env.manifestBytes, env.signature, key.publicKey);
  const tweet = host.meter();
  const a2 = nacl.sign.detached.verify(env.manifestBytes, env.signature, key.publicKey);
  const tweet2 = host.meter();
  const b = noble.verify(env.signature, env.manifestBytes, key.publicKey);
  const nob = host.meter();
  const b2 = noble.verify(env.signature, env.manifestBytes, key.publicKey);
  const nob2 = host.meter();
  // Wall time too: computrons count bytecodes, and one BigInt multiply (noble) is one bytecode.
  const N = 5;
  let t = Date.now();
  for (let i = 0; i < N; i++) nacl.sign.detached.verify(env.manifestBytes, env.signature, key.publicKey);
  const tweetMs = (Date.now() - t) / N;
  host.meter();
  t = Date.now();
  for (let i = 0; i < N; i++) noble.verify(env.signature, env.manifestBytes, key.publicKey);
  const nobleMs = (Date.now() - t) / N;
  host.meter();
  host.emit(`tweetnacl-verify-ms ${tweetMs}`);
  host.emit(`noble-verify-ms ${nobleMs}`);
  host.emit(`manifest-bytes ${env.manifestBytes.length}`);
  host.emit(`tweetnacl-verify ${tweet}`);
  host.emit(`tweetnacl-verify-2nd ${tweet2}`);
  host.emit(`noble-verify ${nob}`);
  host.emit(`noble-verify-2nd ${nob2}`);
  host.emit(`both-accept ${a && a2 && b && b2 ? 1 : 0}`);
}

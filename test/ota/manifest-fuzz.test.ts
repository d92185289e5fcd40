/**
 * Fuzzing the manifest parsers: 100,000+ mutated and random inputs per run. Every input must
 * either parse or fail with ManifestError; nothing else may escape, and a parse must satisfy
 * the manifest's own constraints. Seeded: SEED=<n> npx vitest run test/ota/manifest-fuzz.test.ts
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { cborEncode } from "../../device/core/util/cbor";
import { blockCount, HASH_SIZE, ManifestError, parseEnvelope, parseManifest, type Manifest } from "../../device/core/ota/manifest";
import { verifyOffer, trustKeys } from "../../device/core/ota/verify";
import { tweetnaclVerify } from "../../device/core/ota/ed25519";
import { SeededRandom } from "../../host-sim/virtual/random";
import { bundle, HW, KEY, sha256, seedFromEnv } from "./fixtures";

const seed = seedFromEnv(271_828);
const replay = `SEED=${seed} npx vitest run test/ota/manifest-fuzz.test.ts`;

function mutate(rnd: SeededRandom, src: Uint8Array): Uint8Array {
  let b = src.slice();
  const n = 1 + rnd.below(4);
  for (let k = 0; k < n; k++) {
    switch (rnd.below(6)) {
      case 0: // bit flip
        if (b.length) b[rnd.below(b.length)] ^= 1 << rnd.below(8);
        break;
      case 1: // random byte
        if (b.length) b[rnd.below(b.length)] = rnd.below(256);
        break;
      case 2: // truncate
        b = b.subarray(0, rnd.below(b.length + 1));
        break;
      case 3: { // insert bytes
        const at = rnd.below(b.length + 1);
        const ins = new Uint8Array(1 + rnd.below(8));
        rnd.fill(ins);
        const out = new Uint8Array(b.length + ins.length);
        out.set(b.subarray(0, at));
        out.set(ins, at);
        out.set(b.subarray(at), at + ins.length);
        b = out;
        break;
      }
      case 4: { // delete a range
        const at = rnd.below(b.length + 1);
        const end = Math.min(b.length, at + rnd.below(16));
        const out = new Uint8Array(b.length - (end - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(end), at);
        b = out;
        break;
      }
      default: { // an interesting CBOR head byte
        const heads = [0x1b, 0x5b, 0x7b, 0x9b, 0xbb, 0xfa, 0xfb, 0xf7, 0xff, 0xc0, 0xd8, 0x9f, 0xbf];
        if (b.length) b[rnd.below(b.length)] = heads[rnd.below(heads.length)];
      }
    }
  }
  return b;
}

function checkParsed(m: Manifest): void {
  expect(m.hardwareId.length).toBeGreaterThan(0);
  expect(m.length).toBeGreaterThan(0);
  expect(m.blockHashes.length).toBe(blockCount(m.length, m.blockSize) * HASH_SIZE);
  expect(m.sha256.length).toBe(32);
}

function expectOnlyManifestError(f: () => void, input: Uint8Array): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (!(e instanceof ManifestError)) {
      throw new Error(`non-ManifestError ${String(e)} for input ${Buffer.from(input).toString("hex").slice(0, 200)} (replay: ${replay})`);
    }
    return false;
  }
}

describe(`manifest parser fuzz (seed ${seed})`, () => {
  const b = bundle(2, { expiry: 1_800_000_000 });
  const env = parseEnvelope(b.envelope);

  it("100,000 mutated envelopes and manifests: parse or ManifestError, nothing else", () => {
    const rnd = new SeededRandom(seed);
    let parsed = 0;
    for (let i = 0; i < 50_000; i++) {
      const input = mutate(rnd, b.envelope);
      if (expectOnlyManifestError(() => parseEnvelope(input), input)) parsed++;
    }
    for (let i = 0; i < 50_000; i++) {
      const input = mutate(rnd, env.manifestBytes);
      expectOnlyManifestError(() => {
        const m = parseManifest(input);
        checkParsed(m);
        parsed++;
      }, input);
    }
    expect(parsed).toBeGreaterThan(0); // the mutator leaves some inputs valid: the happy path runs too
  });

  it("10,000 arbitrary CBOR values (fast-check) are refused cleanly", () => {
    fc.assert(
      fc.property(fc.anything({ withMap: true, withTypedArray: true, withBigInt: true }), fc.boolean(), (v, asManifest) => {
        let bytes: Uint8Array;
        try {
          bytes = cborEncode(asManifest ? new Map([[1, v], [2, v]]) : v);
        } catch {
          return; // not encodable by cbor-x: not an input a device can receive
        }
        expectOnlyManifestError(() => parseEnvelope(bytes), bytes);
        expectOnlyManifestError(() => parseManifest(bytes), bytes);
      }),
      { numRuns: 10_000, seed },
    );
  });

  it("mutated offers through the full verification never pass and never throw", () => {
    const rnd = new SeededRandom(seed ^ 0x5a5a);
    const ctx = {
      trustedKeys: trustKeys([KEY.publicKey], sha256),
      hardwareId: HW,
      slotSize: 1 << 20,
      runningVersion: 1,
      securityCounter: 0,
      isRejected: () => false,
      nowSeconds: 1_700_000_000,
      verifySignature: tweetnaclVerify,
    };
    expect(verifyOffer(b.envelope, ctx).ok).toBe(true);
    for (let i = 0; i < 300; i++) {
      const input = mutate(rnd, b.envelope);
      const v = verifyOffer(input, ctx);
      // A mutation that leaves the signed bytes, key id and signature intact (e.g. re-encoding) may pass; then it is the same manifest.
      if (v.ok) expect(Array.from(v.envelope.manifestBytes)).toEqual(Array.from(env.manifestBytes));
      else expect(v.result).toBeGreaterThan(0);
    }
  });
});

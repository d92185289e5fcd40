/** The two ed25519 verifiers agree: valid signatures, mutated signatures, messages and keys (seeded). */
import { describe, expect, it } from "vitest";
import nacl from "tweetnacl";
import { tweetnaclVerify } from "../../device/core/ota/ed25519";
import { nobleVerify } from "../helpers/ed25519-noble";
import { SeededRandom } from "../../host-sim/virtual/random";
import { seedFromEnv } from "./fixtures";

const seed = seedFromEnv(271_828);

describe(`ed25519 verifiers (seed ${seed}; replay: SEED=${seed} npx vitest run test/ota/ed25519.test.ts)`, () => {
  it("tweetnacl and noble give the same verdict on 60 valid and mutated cases", () => {
    const rnd = new SeededRandom(seed);
    for (let i = 0; i < 20; i++) {
      const seedBytes = new Uint8Array(32);
      rnd.fill(seedBytes);
      const kp = nacl.sign.keyPair.fromSeed(seedBytes);
      const msg = new Uint8Array(1 + rnd.below(300));
      rnd.fill(msg);
      const sig = nacl.sign.detached(msg, kp.secretKey);
      expect(tweetnaclVerify(msg, sig, kp.publicKey)).toBe(true);
      expect(nobleVerify(msg, sig, kp.publicKey)).toBe(true);
      const badSig = sig.slice();
      badSig[rnd.below(64)] ^= 1 << rnd.below(8);
      const badMsg = msg.slice();
      badMsg[rnd.below(msg.length)] ^= 1;
      const badKey = kp.publicKey.slice();
      badKey[rnd.below(32)] ^= 1 << rnd.below(8);
      for (const [m, s, k] of [[msg, badSig, kp.publicKey], [badMsg, sig, kp.publicKey], [msg, sig, badKey]] as const) {
        expect(nobleVerify(m, s, k)).toBe(tweetnaclVerify(m, s, k));
        expect(tweetnaclVerify(m, s, k)).toBe(false);
      }
    }
    expect(nobleVerify(new Uint8Array(1), new Uint8Array(63), new Uint8Array(32))).toBe(false);
  });
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { faultySha256, jsSha256, sha256, Sha256Error } from "../../host-sim/virtual/sha256";
import { SeededRandom } from "../../host-sim/virtual/random";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { testSeed } from "../helpers/seed";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("portable SHA-256", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    expect(hex(sha256(new Uint8Array()))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(sha256(new TextEncoder().encode("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256(new TextEncoder().encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("matches node:crypto (the Node port) across lengths and arbitrary chunking", () => {
    const seed = testSeed(20261126);
    const r = new SeededRandom(seed);
    for (let n = 0; n < 300; n++) {
      const len = n < 130 ? n : r.below(5000);
      const data = new Uint8Array(len);
      r.fill(data);
      const ours = jsSha256.create();
      let i = 0;
      while (i < len) {
        const step = 1 + r.below(97);
        ours.update(data.subarray(i, i + step));
        i += step;
      }
      const node = nodeSha256.create();
      node.update(data);
      const expected = createHash("sha256").update(data).digest("hex");
      expect(hex(ours.digest()), `len ${len}; replay: SEED=${seed} npx vitest run test/virtual/sha256.test.ts`).toBe(expected);
      expect(hex(node.digest())).toBe(expected);
    }
  });
});

describe("faultySha256", () => {
  it("fails the chosen call with Sha256Error, or flips a digest bit, and otherwise hashes like the base", () => {
    const ok = sha256(new Uint8Array([1, 2, 3]));
    const port = faultySha256(jsSha256, (c) => (c.n === 1 ? "error" : c.n === 3 ? "wrong" : c.n === 4 ? "error" : undefined));
    const a = port.create();
    a.update(new Uint8Array([1, 2, 3])); // call 0
    expect(() => a.digest()).toThrow(Sha256Error); // call 1
    const b = port.create();
    b.update(new Uint8Array([1, 2, 3])); // 2
    const wrong = b.digest(); // 3
    expect(wrong[0] ^ ok[0]).toBe(1);
    expect(wrong.subarray(1)).toEqual(ok.subarray(1));
    const c = port.create();
    expect(() => c.update(new Uint8Array([1, 2, 3]))).toThrow(/during update/); // 4
    const d = port.create();
    d.update(new Uint8Array([1, 2, 3])); // 5
    expect(d.digest()).toEqual(ok); // 6
  });
});

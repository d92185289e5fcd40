/**
 * The bounded CBOR pre-scan (device/core/util/cbor-scan.ts) against cbor-x: for every value
 * cbor-x encodes, the scan measures the same length and the real nesting depth, and
 * cborDecode returns what cbor-x returns; deep, truncated or over-announced inputs are refused
 * before cbor-x sees them. The XS proof (that the refusal keeps the engine alive on the
 * ESP32 stack) is test/xs/deep-cbor.test.ts.
 */
import { Decoder, Encoder } from "cbor-x";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cborDecode } from "../../device/core/util/cbor";
import { CBOR_MAX_DEPTH, CborScanError, scanCbor } from "../../device/core/util/cbor-scan";
import { testSeed, withSeed } from "../helpers/seed";

const enc = new Encoder({ useRecords: false, mapsAsObjects: false, useTag259ForMaps: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0]);
const dec = new Decoder({ useRecords: false, mapsAsObjects: false } as ConstructorParameters<typeof Decoder>[0]);
const FILE = "test/cbor/depth.test.ts";

const nestedArrays = (n: number) => Uint8Array.from([...Array(n).fill(0x81), 0x00]);

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v instanceof Map) return 1 + Math.max(0, ...[...v].flat().map(depthOf));
  return 0;
}

const leaf = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.string({ maxLength: 30 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 30 }),
  fc.double({ noNaN: true }),
);
const tree = fc.letrec((t) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, t("arr"), t("map")),
  arr: fc.array(t("node"), { maxLength: 4 }),
  map: fc.array(fc.tuple(fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), t("node")), { maxLength: 4 }).map((es) => new Map(es)),
})).node;

describe("bounded CBOR scan", () => {
  it("measures length and depth exactly as cbor-x encodes (differential)", () => {
    const seed = testSeed(20261126);
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(tree, (v) => {
          const bytes = enc.encode(v);
          const d = depthOf(v);
          if (d > CBOR_MAX_DEPTH) {
            expect(() => cborDecode(bytes)).toThrow(CborScanError);
            return;
          }
          const s = scanCbor(bytes);
          expect(s.length).toBe(bytes.length);
          expect(s.depth).toBe(d);
          expect(cborDecode(bytes)).toEqual(dec.decode(bytes));
        }),
        { seed, numRuns: 400 },
      ),
    );
  });

  it("refuses nesting one level past the limit, accepts it at the limit", () => {
    expect(cborDecode(nestedArrays(CBOR_MAX_DEPTH))).toBeDefined();
    expect(() => cborDecode(nestedArrays(CBOR_MAX_DEPTH + 1))).toThrow(/nested deeper than 8/);
    // The reported attack (70 levels) and a far deeper one: refused, not recursed into.
    expect(() => cborDecode(nestedArrays(70))).toThrow(CborScanError);
    expect(() => cborDecode(nestedArrays(100_000))).toThrow(CborScanError);
    // Maps, tags and indefinite containers count too.
    const deepMaps = Uint8Array.from([...Array(9).fill([0xa1, 0x00]).flat(), 0x00]);
    expect(() => cborDecode(deepMaps)).toThrow(/nested deeper/);
    const deepTags = Uint8Array.from([...Array(9).fill(0xc1), 0x00]);
    expect(() => cborDecode(deepTags)).toThrow(/nested deeper/);
    const deepIndef = Uint8Array.from([...Array(9).fill(0x9f), 0x00, ...Array(9).fill(0xff)]);
    expect(() => cborDecode(deepIndef)).toThrow(/nested deeper/);
    expect(cborDecode(Uint8Array.from([0x9f, 0x9f, 0x01, 0xff, 0xff]))).toEqual([[1]]);
  });

  it("refuses containers and strings that announce more than is left (before cbor-x allocates)", () => {
    expect(() => scanCbor(Uint8Array.from([0x9b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))).toThrow(/array of 4294967295/);
    expect(() => scanCbor(Uint8Array.from([0xba, 0x10, 0, 0, 0, 1]))).toThrow(/map of/);
    expect(() => scanCbor(Uint8Array.from([0x5a, 0, 1, 0, 0, 1]))).toThrow(/string of 65536 bytes/);
    expect(() => scanCbor(Uint8Array.from([0x1c]))).toThrow(/reserved/);
    expect(() => scanCbor(Uint8Array.from([0xff]))).toThrow(/break/);
    expect(() => scanCbor(Uint8Array.from([0x7f, 0x41, 0x00, 0xff]))).toThrow(/indefinite string/);
  });

  it("never throws anything but CborScanError on random bytes, and agrees with cbor-x when it passes", () => {
    const seed = testSeed(7);
    withSeed(seed, FILE, () =>
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          let scanned = false;
          let int64 = false;
          try {
            int64 = scanCbor(bytes).hasInt64;
            scanned = true;
          } catch (e) {
            expect(e).toBeInstanceOf(CborScanError);
          }
          if (!scanned) return;
          // cbor-x may still refuse (trailing bytes, invalid UTF-8): then cborDecode throws too.
          let want: unknown;
          try {
            want = dec.decode(bytes);
          } catch {
            expect(() => cborDecode(bytes)).toThrow();
            return;
          }
          const got = cborDecode(bytes);
          if (int64 && typeof want === "bigint" && want <= BigInt(Number.MAX_SAFE_INTEGER) && want >= -BigInt(Number.MAX_SAFE_INTEGER)) expect(got).toBe(Number(want));
          else expect(got).toEqual(want);
        }),
        { seed, numRuns: 3000 },
      ),
    );
  });

  it("refuses a half-precision float everywhere (cbor-x decodes it through a buffer that is read-only on the board)", () => {
    // {0: 2, 1: 1.5 as a half}: Node's cbor-x reads 1.5; the preloaded board threw "read-only buffer" (mcsim).
    const half = Uint8Array.from([0xa2, 0x00, 0x02, 0x01, 0xf9, 0x3e, 0x00]);
    expect(dec.decode(half).get(1)).toBe(1.5);
    expect(() => cborDecode(half)).toThrow(new CborScanError("half-precision float at byte 4: not accepted (Tether messages carry no floats)"));
    // Single and double precision decode as before (through the message's own bytes).
    expect((cborDecode(Uint8Array.from([0xa1, 0x01, 0xfa, 0x3f, 0xc0, 0x00, 0x00])) as Map<number, number>).get(1)).toBe(1.5);
    expect((cborDecode(Uint8Array.from([0xa1, 0x01, 0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])) as Map<number, number>).get(1)).toBe(1.5);
  });

  it("accepts an 8-byte integer head when the value fits, keeps a BigInt when it does not", () => {
    const small = Uint8Array.from([0xa1, 0x01, 0x1b, 0, 0, 0, 0, 0, 0, 0, 60]);
    expect(dec.decode(small).get(1)).toBe(60n); // what cbor-x alone gives: refused by every validator
    expect(cborDecode(small)).toEqual(new Map([[1, 60]]));
    expect(cborDecode(Uint8Array.from([0x3b, 0, 0, 0, 0, 0, 0, 0, 4]))).toBe(-5);
    expect(cborDecode(Uint8Array.from([0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(2n ** 64n - 1n);
  });
});

// The bundle-time patch that lets cbor-x load when xsl strips built-in names (scripts/cbor-x-typed-array-names.mjs).
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "../../scripts/build.mjs";
import { CBOR_X_TYPED_ARRAY_NAME_EXPR, patchCborXDecode, TYPED_ARRAY_TAG_VIEW_NAMES } from "../../scripts/cbor-x-typed-array-names.mjs";

const DECODE_JS = path.join(repoRoot, "node_modules", "cbor-x", "decode.js");

describe("cbor-x typed-array names patch", () => {
  it("replaces the installed cbor-x's name read, and its table matches the tags cbor-x registers", () => {
    const source = fs.readFileSync(DECODE_JS, "utf8");
    const patched = patchCborXDecode(source);
    expect(patched).not.toContain(".name.slice(");
    // cbor-x's own list, in its order: the table must name each constructor it registers under that tag.
    const tags = JSON.parse(/const typedArrayTags = (\[[\d, ]+\])/.exec(source)![1]!) as number[];
    const ctors = /export const typedArrays = \[([\s\S]*?)\]\n/.exec(source)![1]!.match(/\b(?:Big)?(?:Uint|Int|Float)\d+(?:Clamped)?Array\b(?!')/g)!;
    const unique = ctors.filter((c, i) => ctors.indexOf(c) === i);
    expect(unique.length).toBe(tags.length);
    tags.forEach((tag, i) => expect(`${TYPED_ARRAY_TAG_VIEW_NAMES[tag]}Array`, `tag ${tag}`).toBe(unique[i]));
  });

  it("fails the build when cbor-x no longer has the expected line", () => {
    expect(() => patchCborXDecode("function registerTypedArray(T, tag) { return T.name }")).toThrow(CBOR_X_TYPED_ARRAY_NAME_EXPR);
  });
});

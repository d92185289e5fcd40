// An esbuild plugin for device bundles: cbor-x's decode.js, at its top level, reads each typed
// array constructor's `name` (registerTypedArray: `'get' + TypedArray.name.slice(0, -5)`, cbor-x
// 1.6) to pick the DataView getter. On the board the bundle is preloaded by xsl, and with any
// `strip` list xsl gives functions no `name` (xs/tools/xslSlot.c, fxNewFunctionName returns
// nothing while stripping, Moddable SDK 8.2.3), so that line threw "cannot coerce undefined to
// object" and the image could not be linked. The patch takes the name from a fixed table keyed by
// the CBOR tag (RFC 8746) instead. If cbor-x changes that line the build fails, rather than
// shipping an image that breaks only on the board.
import fs from "node:fs";

/** The exact source the patch replaces. */
export const CBOR_X_TYPED_ARRAY_NAME_EXPR = "TypedArray.name.slice(0, -5)";

/** RFC 8746 typed-array tags (the ones cbor-x registers) to the DataView getter suffix. */
export const TYPED_ARRAY_TAG_VIEW_NAMES = Object.freeze({
  64: "Uint8",
  68: "Uint8Clamped",
  69: "Uint16",
  70: "Uint32",
  71: "BigUint64",
  72: "Int8",
  77: "Int16",
  78: "Int32",
  79: "BigInt64",
  85: "Float32",
  86: "Float64",
});

/** decode.js with the typed-array name read replaced; throws if the expected source is not there once. */
export function patchCborXDecode(source) {
  const parts = source.split(CBOR_X_TYPED_ARRAY_NAME_EXPR);
  if (parts.length !== 2) {
    throw new Error(
      `cbor-x decode.js: expected "${CBOR_X_TYPED_ARRAY_NAME_EXPR}" exactly once (found ${parts.length - 1}); ` +
        "cbor-x changed: update scripts/cbor-x-typed-array-names.mjs (the board's preload has no function names)",
    );
  }
  return parts.join(`${JSON.stringify(TYPED_ARRAY_TAG_VIEW_NAMES)}[tag]`);
}

export function cborXTypedArrayNamesPlugin() {
  return {
    name: "tether-cbor-x-typed-array-names",
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]cbor-x[\\/]decode\.js$/ }, async (args) => {
        try {
          return { contents: patchCborXDecode(await fs.promises.readFile(args.path, "utf8")), loader: "js" };
        } catch (e) {
          return { errors: [{ text: e instanceof Error ? e.message : String(e) }] };
        }
      });
    },
  };
}

import type { Plugin } from "esbuild";

export declare const CBOR_X_TYPED_ARRAY_NAME_EXPR: string;
export declare const TYPED_ARRAY_TAG_VIEW_NAMES: Readonly<Record<number, string>>;
export declare function patchCborXDecode(source: string): string;
export declare function cborXTypedArrayNamesPlugin(): Plugin;

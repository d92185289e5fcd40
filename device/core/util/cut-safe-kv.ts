/**
 * Overwrites that a power cut cannot lose, on a key-value store whose set may erase the key
 * before it writes the new value (the board's adapter does: Moddable's `preference` module calls
 * nvs_erase_key, then nvs_set_blob; a cut in between leaves the key missing).
 *
 * A shadow key ("~" + key) holds the new value while the plain key is rewritten:
 *   write:  shadow = new, then plain = new, then the shadow is deleted;
 *   read:   the plain key, and the shadow only when the plain key is missing;
 *   delete: the shadow first, then the plain key (a cut never brings an old value back).
 * The plain key always ends up with the value, so an older image after a rollback, which reads
 * only the plain key, sees what it always saw. The shadow exists only while an overwrite is under
 * way, so an older image that rewrites or deletes the plain key leaves no stale shadow behind.
 * A key that is missing (plain and shadow) is written without a shadow: a cut then leaves it
 * missing, which is its old state. A plain key missing beside a shadow (a cut inside an
 * overwrite) is written directly too: the shadow keeps the current value until the plain key
 * has the new one.
 */
import { KvError, type KeyValueStore } from "../../ports";
import { bytesEqual } from "../ota/bytes";

/** Shadow keys are "~" + key; keys stay within KV_KEY_MAX (15), so a cut-safe key has at most 14 characters. */
export const SHADOW_PREFIX = "~";

export function shadowKeyOf(key: string): string {
  return SHADOW_PREFIX + key;
}

/** The value of a key written with writeCutSafe (or by an older image, plain only). */
export function readCutSafe(kv: KeyValueStore, key: string): Uint8Array | undefined {
  return kv.get(key) ?? kv.get(shadowKeyOf(key));
}

/**
 * The plain key is erased only once the shadow reads back: NVS can report a write done whose
 * item comes out corrupt (programmed over a torn entry's leftovers) and drop it at the next
 * lookup (ota/store.ts put); a second write lands on a clean entry. A shadow that still does not
 * read back is an I/O error, with the plain key untouched.
 */
export function writeCutSafe(kv: KeyValueStore, key: string, value: Uint8Array): void {
  const shadow = shadowKeyOf(key);
  const hadPlain = kv.get(key) !== undefined;
  if (hadPlain) {
    for (let i = 0; !sameBytes(kv.get(shadow), value); i++) {
      if (i === 2) throw new KvError("io", `kv: "${shadow}" does not read back what was written`);
      kv.set(shadow, value);
    }
  }
  kv.set(key, value);
  if (hadPlain || kv.get(shadow) !== undefined) kv.delete(shadow);
}

export function deleteCutSafe(kv: KeyValueStore, key: string): void {
  const shadow = shadowKeyOf(key);
  if (kv.get(shadow) !== undefined) kv.delete(shadow);
  kv.delete(key);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && bytesEqual(a, b);
}

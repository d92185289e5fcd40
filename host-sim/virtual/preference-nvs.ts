/**
 * The key-value store as the board's adapter (device/platform/moddable/kv.ts) really writes it:
 * Moddable's "preference" module over ESP-IDF NVS. Moddable's xs_preference_set
 * (modules/files/preference/esp32/modPreference.c, ERASE_KEY, there since SDK commit cdc2b7566,
 * 2020-06: "NVS in ESP IDF doesn't want to change the type of an existing key -- erase before
 * writing as workaround") calls nvs_erase_key and then nvs_set_blob. So on the board:
 * - a power cut between the two leaves the key missing: neither its old nor its new value;
 * - a set that finds no room has already erased the old value (ERASE_KEY ignores its result);
 * - NVS never sees an unchanged value (the key is gone before cmpMultiPageBlob could compare).
 * Deletes are nvs_erase_key alone, as in NvsFlashKv.
 */
import { checkKvEntry } from "../../device/ports";
import { NvsFlashKv } from "./nvs-flash";

export class PreferenceNvsKv extends NvsFlashKv {
  override set(key: string, value: Uint8Array): void {
    checkKvEntry(key, value);
    super.delete(key);
    super.set(key, value);
  }
}

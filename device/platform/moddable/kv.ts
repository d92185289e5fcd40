/**
 * KeyValueStore port over Moddable's "preference" module, which is ESP-IDF NVS on ESP32
 * (one NVS namespace per preference domain). Values are stored as NVS blobs (ArrayBuffer).
 * Limits are checked here, before NVS sees them, so a bad key is a clear KvError rather than
 * Moddable's generic "nvs set fail".
 */
import Preference from "preference";
import { KV_KEY_MAX, KV_VALUE_MAX, KvError, rethrowHalt, type KeyValueStore } from "../../ports";

/** NVS namespaces have the same 15-character limit as keys. */
export const DEFAULT_DOMAIN = "tether";

export class PreferenceKv implements KeyValueStore {
  constructor(private readonly domain: string = DEFAULT_DOMAIN) {
    if (domain.length === 0 || domain.length > KV_KEY_MAX) throw new KvError("key-too-long", `kv: domain "${domain}" must be 1..${KV_KEY_MAX} characters`);
  }

  get(key: string): Uint8Array | undefined {
    this.checkKey(key);
    let value: unknown;
    try {
      value = Preference.get(this.domain, key);
    } catch (e) {
      rethrowHalt(e);
      throw new KvError("io", `kv: get ${key}: ${String(e)}`);
    }
    if (value === undefined) return undefined;
    // Only this adapter writes the domain, always as blobs; anything else is foreign data.
    if (!(value instanceof ArrayBuffer)) throw new KvError("io", `kv: ${key} holds a ${typeof value}, not bytes`);
    return new Uint8Array(value);
  }

  set(key: string, value: Uint8Array): void {
    this.checkKey(key);
    if (value.length > KV_VALUE_MAX) throw new KvError("value-too-long", `kv: value for ${key} is ${value.length} bytes (max ${KV_VALUE_MAX})`);
    const copy = value.slice().buffer as ArrayBuffer;
    try {
      Preference.set(this.domain, key, copy);
    } catch (e) {
      rethrowHalt(e);
      // Limits were checked above, so an NVS set failure is almost always ESP_ERR_NVS_NOT_ENOUGH_SPACE.
      throw new KvError("full", `kv: set ${key}: ${String(e)}`);
    }
  }

  delete(key: string): void {
    this.checkKey(key);
    try {
      Preference.delete(this.domain, key);
    } catch (e) {
      rethrowHalt(e);
      throw new KvError("io", `kv: delete ${key}: ${String(e)}`);
    }
  }

  keys(): string[] {
    return Preference.keys(this.domain).slice().sort();
  }

  private checkKey(key: string): void {
    if (key.length === 0 || key.length > KV_KEY_MAX) throw new KvError("key-too-long", `kv: key "${key}" must be 1..${KV_KEY_MAX} characters`);
  }
}

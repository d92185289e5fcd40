/**
 * Fake of Moddable's "preference" on ESP32 (modules/files/preference/esp32), over a model of
 * NVS: namespaces and keys of at most 15 characters, blobs/strings of at most 4000 bytes here
 * (the port's limit), a byte capacity, and Moddable's error texts ("nvs set fail", ...).
 * get of a missing key or namespace returns undefined; delete of a missing key is not an error.
 * set erases the key first, as Moddable's xs_preference_set does (nvs_erase_key, then nvs_set_blob).
 */
import { world } from "./world";

const NVS_KEY_MAX = 15;
const NVS_VALUE_MAX = 4000;
const ENTRY_OVERHEAD = 32;

function sizeOf(value: unknown): number {
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (typeof value === "string") return value.length + 1;
  return 4;
}

function used(): number {
  let n = 0;
  for (const ns of world().nvs.values()) for (const v of ns.values()) n += sizeOf(v) + ENTRY_OVERHEAD;
  return n;
}

const Preference = {
  set(domain: string, key: string, value: unknown): void {
    const w = world();
    if (domain.length > NVS_KEY_MAX) throw new Error("nvs_open fail");
    let stored: unknown;
    if (typeof value === "boolean" || typeof value === "string") stored = value;
    else if (typeof value === "number") {
      if (value !== Math.trunc(value)) throw new Error("float unsupported");
      stored = value | 0;
    } else if (value instanceof ArrayBuffer) stored = value.slice(0);
    else throw new Error("unsupported type");
    if (key.length === 0 || key.length > NVS_KEY_MAX) throw new Error("nvs set fail");
    if (sizeOf(stored) > NVS_VALUE_MAX) throw new Error("nvs set fail");
    const ns = w.nvs.get(domain) ?? new Map<string, unknown>();
    w.nvs.set(domain, ns);
    // xs_preference_set erases the key before nvs_set_blob (ERASE_KEY): a set that then finds no
    // room has lost the old value.
    ns.delete(key);
    if (used() + sizeOf(stored) + ENTRY_OVERHEAD > w.nvsCapacity) throw new Error("nvs set fail");
    ns.set(key, stored);
  },
  get(domain: string, key: string): unknown {
    const v = world().nvs.get(domain)?.get(key);
    return v instanceof ArrayBuffer ? v.slice(0) : v;
  },
  delete(domain: string, key: string): void {
    world().nvs.get(domain)?.delete(key);
  },
  keys(domain: string): string[] {
    return [...(world().nvs.get(domain)?.keys() ?? [])];
  },
};

export default Preference;

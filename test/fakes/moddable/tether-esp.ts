/**
 * Fake of Tether's own native module "tether-esp" (device/platform/moddable/native/tether-esp.c)
 * over the world's ESP-IDF boot model, plus the config/resource re-exports. Errors carry the esp_err_t names, like the C side.
 */
import { IMG_NONE } from "./boot-model";
import { world } from "./world";

/** The build's mc/config (a live view of the world's config). */
export const config: Readonly<Record<string, unknown>> = new Proxy({} as Record<string, unknown>, {
  get: (_t, key) => (typeof key === "string" ? world().config[key] : undefined),
  has: (_t, key) => typeof key === "string" && key in world().config,
  ownKeys: () => Object.keys(world().config),
  getOwnPropertyDescriptor: (_t, key) =>
    typeof key === "string" && key in world().config ? { value: world().config[key], enumerable: true, configurable: true, writable: false } : undefined,
});

/** A data resource compiled into the image, or undefined. */
export function resource(name: string): ArrayBuffer | undefined {
  const r = world().resources.get(name);
  return r === undefined ? undefined : (r.slice().buffer as ArrayBuffer);
}

function slotArg(slot: number): 0 | 1 {
  if (slot !== 0 && slot !== 1) throw new RangeError("slot must be 0 or 1");
  return slot;
}

export function runningSlot(): number {
  return world().boot.running;
}

export function slotState(slot: number): number {
  const boot = world().boot;
  return boot.rollbackEnabled ? boot.states[slotArg(slot)] : IMG_NONE;
}

export function recordSeq(): number {
  return world().boot.seq;
}

export function rollbackEnabled(): boolean {
  return world().boot.rollbackEnabled;
}

export function setBootSlot(slot: number): void {
  world().boot.setBootSlot(slotArg(slot));
}

export function markValid(): void {
  world().boot.markValid();
}

export function markInvalidAndReboot(): void {
  const w = world();
  if (!w.boot.rollbackEnabled) throw new Error("ESP_ERR_NOT_SUPPORTED");
  w.boot.markInvalid();
  w.restart("rollback", 3);
}

export function resetReason(): number {
  return world().resetReason;
}

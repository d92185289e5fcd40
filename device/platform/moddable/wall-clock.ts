/**
 * WallClock port: Date.now() once SNTP has set the time (see sntp.ts).
 * An ESP32 boots at the Unix epoch, so a date before 2020 means "not synced yet".
 */
import type { WallClock } from "../../ports";

/** 2020-01-01T00:00:00Z: any earlier reading is the boot-time default, not a real date. */
export const SYNCED_AFTER_MS = 1_577_836_800_000;

export class ModdableWallClock implements WallClock {
  now(): number | undefined {
    const t = Date.now();
    return t >= SYNCED_AFTER_MS ? Math.floor(t) : undefined;
  }
}

/**
 * Virtual calendar time on top of the virtual clock. Unknown until synced (as on a board
 * before SNTP answers); may drift by a whole number of parts per million.
 */
import type { WallClock } from "../../device/ports";
import type { VirtualClock } from "./clock";

export class VirtualWallClock implements WallClock {
  private syncedAt: number | undefined;
  private epochAtSync = 0;

  constructor(
    private readonly clock: VirtualClock,
    /** Integer ppm; positive runs fast. */
    public driftPpm = 0,
  ) {}

  /** Sets the calendar time, as an SNTP answer would. */
  sync(unixMs: number): void {
    this.syncedAt = this.clock.now();
    this.epochAtSync = unixMs;
  }

  /** Forgets the time (a failed or not-yet-done sync after boot). */
  unsync(): void {
    this.syncedAt = undefined;
  }

  now(): number | undefined {
    if (this.syncedAt === undefined) return undefined;
    const elapsed = this.clock.now() - this.syncedAt;
    return this.epochAtSync + elapsed + Math.trunc((elapsed * this.driftPpm) / 1_000_000);
  }
}

/**
 * Clock port over Moddable's "timer" and "time" modules.
 * Time.ticks is a 32-bit millisecond counter on ESP32 (it wraps after ~49.7 days), so now()
 * unwraps it into a monotonic count; the agent runs for months.
 */
import Timer from "timer";
import Time from "time";
import type { Clock, TimerId } from "../../ports";

const WRAP = 0x1_0000_0000;

export class ModdableClock implements Clock {
  private readonly timers = new Map<TimerId, Timer>();
  private nextId = 1;
  private lastRaw = -1;
  private wraps = 0;

  now(): number {
    const raw = Time.ticks >>> 0;
    if (this.lastRaw >= 0 && raw < this.lastRaw) this.wraps++;
    this.lastRaw = raw;
    return this.wraps * WRAP + raw;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.nextId++;
    const delay = ms > 0 ? Math.floor(ms) : 0;
    // Drop the handle before calling out: the callback may schedule or clear timers.
    const timer = Timer.set(() => {
      this.timers.delete(id);
      fn();
    }, delay);
    this.timers.set(id, timer);
    return id;
  }

  clearTimeout(id: TimerId): void {
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    this.timers.delete(id);
    Timer.clear(timer);
  }

  /** Timers still pending (for tests and leak checks). */
  pending(): number {
    return this.timers.size;
  }
}

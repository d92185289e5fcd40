/**
 * Fake of Moddable's "time": `ticks` is the 32-bit millisecond counter (it wraps, as on ESP32),
 * `set(seconds)` sets the RTC that Date.now() reads.
 */
import { world } from "./world";

const Time = {
  get ticks(): number {
    return world().clock.now() % 0x1_0000_0000;
  },
  set(seconds: number): void {
    const w = world();
    w.epochMs = seconds * 1000 - w.clock.now();
  },
  timezone: 0,
  dst: 0,
  delta(start: number, end?: number): number {
    return (end ?? Time.ticks) - start;
  },
};

export default Time;

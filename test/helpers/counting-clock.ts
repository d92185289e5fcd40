/** A Clock port over another clock that counts the timers set through it (the owner's only). */
import type { Clock } from "../../device/ports";

export function countingClock(clock: Clock): { clock: Clock; counted: { set: number } } {
  const counted = { set: 0 };
  return {
    counted,
    clock: {
      now: () => clock.now(),
      setTimeout: (fn, ms) => {
        counted.set++;
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: (id) => clock.clearTimeout(id),
    },
  };
}

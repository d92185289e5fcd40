/**
 * The service's clock: calendar time in Unix ms plus timers. Real time in `tether fleet serve`;
 * the simulator passes one driven by its virtual clock, so the same service code runs there.
 */
export interface ServiceClock {
  /** Unix milliseconds, an integer. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const realClock: ServiceClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** A clock over any millisecond tick source (e.g. host-sim's VirtualClock) starting at `epochMs`. */
export function offsetClock(
  base: { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: never): void },
  epochMs: number,
): ServiceClock {
  return {
    now: () => epochMs + base.now(),
    setTimeout: (fn, ms) => base.setTimeout(fn, ms),
    clearTimeout: (id) => base.clearTimeout(id as never),
  };
}

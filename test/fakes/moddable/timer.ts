/**
 * Fake of Moddable's "timer" (documentation/base/timer.md): Timer.set / repeat / schedule /
 * clear on the world's virtual clock. A callback receives its timer, like the real module.
 */
import { world } from "./world";

interface FakeTimer {
  id: number | undefined;
  callback: (t: FakeTimer) => void;
  repeat: number;
}

function arm(t: FakeTimer, ms: number): void {
  t.id = world().chipTimeout(() => {
    t.id = undefined;
    if (t.repeat > 0) arm(t, t.repeat);
    t.callback(t);
  }, ms);
}

const Timer = {
  set(callback: (t: FakeTimer) => void, interval = 0, repeat = 0): FakeTimer {
    if (typeof callback !== "function") throw new TypeError("Timer.set: callback must be a function");
    const t: FakeTimer = { id: undefined, callback, repeat };
    arm(t, interval);
    return t;
  },
  repeat(callback: (t: FakeTimer) => void, interval: number): FakeTimer {
    return Timer.set(callback, interval, interval);
  },
  schedule(t: FakeTimer, interval = 0, repeat = 0): void {
    Timer.clear(t);
    t.repeat = repeat;
    arm(t, interval);
  },
  clear(t: FakeTimer | undefined | null): void {
    if (!t) return;
    if (t.id !== undefined) world().clock.clearTimeout(t.id);
    t.id = undefined;
    t.repeat = 0;
  },
  delay(ms: number): void {
    world().clock.advance(ms);
  },
};

export default Timer;

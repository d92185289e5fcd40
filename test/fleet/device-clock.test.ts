// The clock port's contract (device/ports.ts): milliseconds since boot. A virtual device's clock
// restarts at every boot, as a chip's tick counter does at a reset; before, it was the fleet's
// clock, so telemetry after a reboot carried the old boot's uptime and the fleet service could
// miss the reboot (and count the new boot's sequence skip as lost batches).
import { describe, expect, it } from "vitest";
import { DeviceClock, type Guarded } from "../../host-sim/fleet/guards";
import { VirtualClock } from "../../host-sim/virtual/clock";

const device = (): Guarded => ({ epoch: 1, fault: (e) => { throw e; }, radioDown: () => false, sockets: [] });

describe("DeviceClock", () => {
  it("counts from the boot that made it, and its timers still fire on the fleet clock", () => {
    const fleet = new VirtualClock();
    fleet.advance(8 * 3_600_000);
    const dev = device();
    const boot = new DeviceClock(fleet, dev, 1);
    expect(boot.now()).toBe(0);
    let firedAt = -1;
    boot.setTimeout(() => (firedAt = boot.now()), 1500);
    fleet.advance(2000);
    expect(firedAt).toBe(1500);
    expect(boot.now()).toBe(2000);
    // The next boot (after a restart) starts again from zero.
    dev.epoch = 2;
    const next = new DeviceClock(fleet, dev, 2);
    expect(next.now()).toBe(0);
    fleet.advance(10);
    expect(next.now()).toBe(10);
    expect(boot.now()).toBe(2010);
  });
});

/**
 * One boot of a device driven by hand (no rig): the reference bootloader picks the slot, then an
 * OtaUpdater runs on a virtual clock; the test feeds offers, blocks and link events itself.
 */
import { OtaUpdater, type OtaOptions } from "../../device/core/ota/updater";
import type { OtaStatus } from "../../device/core/ota/status";
import { SimBootControl } from "../../host-sim/boot/boot-control";
import { runBootloader, type BootloaderConfig } from "../../bootloader-spec/reference/bootloader";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { DeviceHalted, VirtualSystem } from "../../host-sim/virtual/system";
import type { Flash, ResetReason, Sha256 } from "../../device/ports";
import type { SimFlash } from "../../host-sim/virtual/flash";
import type { MemoryKv } from "../../host-sim/virtual/kv";
import { HW, KEY, sha256 } from "./fixtures";

export interface HandDeviceOptions {
  reset?: ResetReason;
  /** restart() returns instead of halting (a platform whose restart is deferred, like `tether device`). */
  softRestart?: boolean;
  /** Ports in place of the simulated ones (fault wrappers). */
  flash?: Flash;
  sha?: Sha256;
  /** false: a bootloader built without rollback support. */
  rollback?: boolean;
  bootloader?: BootloaderConfig;
  options?: Partial<OtaOptions>;
}

export function handDevice(flash: SimFlash, kv: MemoryKv, version: number, o: HandDeviceOptions = {}) {
  const out = runBootloader(flash, sha256, { rollback: o.rollback, ...o.bootloader });
  if (!out.ok) throw new Error(out.reason);
  const clock = new VirtualClock();
  let restarts = 0;
  const system = new VirtualSystem(o.reset ?? "power-on", () => {
    restarts++;
    if (!o.softRestart) throw new DeviceHalted("restart");
  });
  const statuses: OtaStatus[] = [];
  const wants: number[][] = [];
  const ota = new OtaUpdater(
    { flash: o.flash ?? flash, kv, sha256: o.sha ?? sha256, clock, system, wallClock: { now: () => undefined }, boot: new SimBootControl(flash, out.slot, out.rollback, () => system.restart()) },
    { hardwareId: HW, currentVersion: version, trustedKeys: [KEY.publicKey], ...o.options },
    { status: (s) => statuses.push(s), want: (b) => wants.push(b), release: () => {} },
  );
  ota.start();
  return { ota, clock, statuses, wants, slot: out.slot, restarts: () => restarts };
}

/**
 * The system port for a virtual device: restart hands control back to the simulator,
 * which tears the agent down and boots it again on the same flash and key-value store.
 */
import type { ResetReason, System } from "../../device/ports";

export class VirtualSystem implements System {
  restarts = 0;

  constructor(
    private reason: ResetReason,
    private readonly onRestart: () => void,
  ) {}

  restart(): void {
    this.restarts++;
    this.onRestart();
  }

  resetReason(): ResetReason {
    return this.reason;
  }
}

/** Thrown out of a device turn to stop it where it stands (restart, power loss). */
export class DeviceHalted extends Error {
  /** Core never swallows it (device/ports.ts isHalt). */
  readonly halt = true;
  constructor(readonly why: "restart" | "power-off") {
    super(`device halted: ${why}`);
    this.name = "DeviceHalted";
  }
}

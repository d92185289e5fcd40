/**
 * System port: restart through the ECMA-419 "system" module's global System, reset reason
 * through the tether-esp binding (esp_reset_reason).
 *
 * On a board System.restart() never returns (esp_restart). Moddable's simulator has no restart:
 * its "system" module for lin has no `restart`, and the common one's native call is missing, so
 * the call throws ("call: not a function"). Then the device cannot do what the agent asked, and
 * carrying on as if it had rebooted would be a lie: the adapter logs it plainly and stops the
 * agent (the `onRestartUnavailable` hook), which is where a board would have rebooted.
 */
import * as esp from "tether-esp";
import { rethrowHalt, type Log, type ResetReason, type System } from "../../ports";

/** esp_reset_reason_t (ESP-IDF esp_system.h) to the port's vocabulary. */
export function mapResetReason(code: number): ResetReason {
  switch (code) {
    case 1: // ESP_RST_POWERON
      return "power-on";
    case 2: // ESP_RST_EXT
      return "external";
    case 3: // ESP_RST_SW
      return "software";
    case 4: // ESP_RST_PANIC
      return "panic";
    case 5: // ESP_RST_INT_WDT
    case 6: // ESP_RST_TASK_WDT
    case 7: // ESP_RST_WDT
      return "watchdog";
    case 8: // ESP_RST_DEEPSLEEP
      return "deep-sleep";
    case 9: // ESP_RST_BROWNOUT
      return "brownout";
    default: // ESP_RST_UNKNOWN, SDIO, USB, JTAG, EFUSE, PWR_GLITCH, CPU_LOCKUP
      return "unknown";
  }
}

export class EspSystem implements System {
  /** Called once the runtime turned out unable to restart (set by main.ts: stop the agent). */
  onRestartUnavailable: (() => void) | undefined;

  constructor(private readonly log?: Log) {}

  restart(): void {
    let why: string;
    try {
      System.restart(); // esp_restart(): does not return on a board
      why = "System.restart() returned";
    } catch (e) {
      rethrowHalt(e); // a restart that stops the program where it stands (the XS tier's fake chip)
      why = `System.restart() threw: ${(e as Error)?.message ?? String(e)}`;
    }
    this.log?.("error", `system: restart requested but this runtime cannot restart (${why}; Moddable's simulator has no restart); the agent stops here, where a board would reboot`);
    const stop = this.onRestartUnavailable;
    this.onRestartUnavailable = undefined;
    stop?.();
  }

  resetReason(): ResetReason {
    return mapResetReason(esp.resetReason());
  }
}

/**
 * System port: restart through the ECMA-419 "system" module's global System, reset reason
 * through the tether-esp binding (esp_reset_reason).
 */
import * as esp from "tether-esp";
import type { ResetReason, System } from "../../ports";

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
  restart(): void {
    System.restart();
  }

  resetReason(): ResetReason {
    return mapResetReason(esp.resetReason());
  }
}

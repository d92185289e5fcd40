/**
 * Brown-out: the one path where the agent must stop *cleanly* before the power does.
 * Order matters: stop the timers (no new work), encode what is buffered, hand it to the
 * persistent outbox, then let the agent shut the link and halt.
 */
import { rethrowHalt, type Log } from "../../ports";
import type { BatteryMonitor } from "../battery/monitor";
import type { TelemetryReporter } from "./reporter";

export interface BrownoutActions {
  /** Persist these encoded batches (into the outbox, without sending). */
  save(batches: Uint8Array[]): void;
  /** Close the link, stop the other services; the device then idles until power returns. */
  shutdown(): void;
  log?: Log;
}

export function stopOnBrownout(battery: BatteryMonitor, reporter: TelemetryReporter, actions: BrownoutActions): void {
  battery.onBrownout((mv) => {
    actions.log?.("warn", `battery: brown-out at ${mv} mV, saving ${reporter.bufferedSamples} samples and stopping`);
    reporter.stop();
    let batches: Uint8Array[] = [];
    try {
      batches = reporter.flush();
      actions.save(batches);
    } catch (e) {
      rethrowHalt(e);
      actions.log?.("error", `battery: could not save ${batches.length} batches at brown-out: ${(e as Error).message}`);
    }
    actions.shutdown();
  });
}

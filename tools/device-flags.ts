/**
 * Checks for the flags that describe one device (`device`, `demo`), made before anything
 * touches the state directory: a bad id or interval is one clear error, never a factory-flashed
 * directory and a crash loop.
 */
import { isDeviceId } from "../device/core/topics";
import { LIMITS } from "../device/core/config/telemetry-config";
import { boundedIntFlag, UsageError } from "./args";

/** Intervals in ms: the lower bound keeps a laptop demo lively, the upper one is what the device accepts over MQTT. */
export const REPORT_INTERVAL_MS = { min: 100, max: LIMITS.reportIntervalSec.max * 1000 } as const;
export const SAMPLE_INTERVAL_MS = { min: 100, max: LIMITS.sampleIntervalSec.max * 1000 } as const;
/** The random power-on delay's upper bound (a day is already far beyond any useful spread). */
export const POWER_ON_MAX_MS = { min: 0, max: 86_400_000 } as const;

/** A device id the agent accepts (device/core/topics.ts), checked with a message that says why. */
export function checkDeviceId(id: string | undefined): string {
  if (id === undefined) throw new UsageError("--id is required");
  if (!isDeviceId(id)) {
    const shown = id.length > 60 ? `${id.slice(0, 60)}… (${id.length} characters)` : id;
    throw new UsageError(
      `--id "${shown}" is not a device id: 1 to 48 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit ` +
        `(it is the MQTT client id and a topic level, so / + # and spaces cannot be in it)`,
    );
  }
  return id;
}

export function reportIntervalFlag(value: string | undefined, fallback: number): number {
  return boundedIntFlag(value, "interval", fallback, REPORT_INTERVAL_MS.min, REPORT_INTERVAL_MS.max, " ms");
}

export function sampleIntervalFlag(value: string | undefined, fallback: number): number {
  return boundedIntFlag(value, "sample", fallback, SAMPLE_INTERVAL_MS.min, SAMPLE_INTERVAL_MS.max, " ms");
}

export function powerOnMaxFlag(value: string | undefined, fallback: number): number {
  return boundedIntFlag(value, "power-on-max", fallback, POWER_ON_MAX_MS.min, POWER_ON_MAX_MS.max, " ms");
}

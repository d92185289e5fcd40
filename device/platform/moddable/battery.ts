/**
 * BatteryAdc port over `embedded:io/analog`. The divider's full-scale voltage comes from the
 * manifest config (config.battery.fullScaleMv), because it depends on the board's resistors
 * and the ADC attenuation, not on anything the ADC can report.
 */
import Analog from "embedded:io/analog";
import type { BatteryAdc } from "../../ports";

export interface BatteryConfig {
  pin: number;
  fullScaleMv: number;
  resolution?: number;
}

export class AnalogBattery implements BatteryAdc {
  readonly resolution: number;
  readonly fullScaleMv: number;
  private readonly analog: Analog;

  constructor(config: BatteryConfig) {
    if (!Number.isInteger(config.fullScaleMv) || config.fullScaleMv <= 0) throw new RangeError(`battery: fullScaleMv must be a positive integer, got ${config.fullScaleMv}`);
    this.analog = new Analog(config.resolution === undefined ? { pin: config.pin } : { pin: config.pin, resolution: config.resolution });
    this.resolution = this.analog.resolution;
    this.fullScaleMv = config.fullScaleMv;
  }

  read(): number {
    return this.analog.read();
  }
}

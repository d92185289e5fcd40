/**
 * Fake of ECMA-419 `embedded:io/analog` (documentation/io/io.md, "Analog Input"): `read()` returns
 * the world's counts for the pin, `resolution` is read-only (12 bits on ESP32 unless asked).
 */
import { world } from "./world";

export default class FakeAnalog {
  readonly resolution: number;
  private readonly pin: number;
  private closed = false;

  constructor(options: { pin: number; resolution?: number }) {
    if (!options || !Number.isInteger(options.pin)) throw new RangeError("invalid pin");
    if (!world().analog.has(options.pin)) throw new RangeError("invalid pin");
    const resolution = options.resolution ?? 12;
    if (!Number.isInteger(resolution) || resolution < 9 || resolution > 13) throw new RangeError("invalid resolution");
    this.pin = options.pin;
    this.resolution = resolution;
  }

  get format(): "number" {
    return "number";
  }
  set format(value: string) {
    if (value !== "number") throw new RangeError("invalid format");
  }

  read(): number {
    if (this.closed) throw new Error("closed");
    // The world stores 12-bit counts; other resolutions scale them, as the ADC driver does.
    const counts12 = world().analog.get(this.pin) ?? 0;
    return this.resolution >= 12 ? counts12 << (this.resolution - 12) : counts12 >> (12 - this.resolution);
  }

  close(): void {
    this.closed = true;
  }
}

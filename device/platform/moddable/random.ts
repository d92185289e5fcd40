/**
 * Random port. On ESP32, Moddable seeds Math.random from the hardware RNG (esp_random),
 * so it is good enough for jitter and nonces; keys are never generated on the device.
 */
import type { Random } from "../../ports";

export class ModdableRandom implements Random {
  nextU32(): number {
    return Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
  }

  fill(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i += 4) {
      let v = this.nextU32();
      for (let j = i; j < i + 4 && j < bytes.length; j++) {
        bytes[j] = v & 0xff;
        v >>>= 8;
      }
    }
  }
}

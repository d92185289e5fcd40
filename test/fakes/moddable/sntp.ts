/**
 * Fake of Moddable's "sntp": answers SNTP.time with the world's Unix seconds after 50 ms,
 * or SNTP.error when no server answers.
 */
import { world } from "./world";

export default class FakeSNTP {
  static readonly time = 1;
  static readonly retry = 2;
  static readonly error = -1;

  constructor(options: { host: string }, callback: (message: number, value?: number) => void) {
    if (!options || typeof options.host !== "string") throw new Error("host required");
    const w = world();
    w.chipTimeout(() => {
      if (w.sntp.available && w.wifi.available) callback(FakeSNTP.time, w.sntp.unixSeconds + Math.floor(w.clock.now() / 1000));
      else callback(FakeSNTP.error);
    }, 50);
  }
}

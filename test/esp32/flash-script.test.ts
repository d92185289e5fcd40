/** scripts/flash.mjs: argument handling and the xs-dev command it runs (no board needed). */
import { describe, expect, it } from "vitest";
import { PROJECT_DIR, UsageError, parseArgs, pemToDer, xsDevArgs } from "../../scripts/flash.mjs";

describe("npm run flash", () => {
  it("turns its options into one xs-dev run of the ESP32 manifest", () => {
    const o = parseArgs(["--port", "/dev/ttyUSB0", "--config.deviceId=esp-0001", "--config.broker", "mqtt://10.0.0.5:1883", "--log"]);
    expect(xsDevArgs(o)).toEqual([
      "xs-dev", "run", PROJECT_DIR, "--device", "esp32", "--mode", "development", "--port", "/dev/ttyUSB0", "--log",
      "--config.deviceId=esp-0001", "--config.broker=mqtt://10.0.0.5:1883",
    ]);
    expect(PROJECT_DIR.endsWith("manifests/esp32")).toBe(true);
  });

  it("refuses what would fail later on the board", () => {
    expect(() => parseArgs([])).toThrow(UsageError);
    expect(() => parseArgs(["--port"])).toThrow(/--port needs a value/);
    expect(() => parseArgs(["--port", "/dev/x", "--mode", "fast"])).toThrow(/--mode/);
    expect(() => parseArgs(["--port", "/dev/x", "--bogus"])).toThrow(/unknown option/);
    expect(() => parseArgs(["--port", "/dev/x", "--config.bad-key=1"])).toThrow(/bad config key/);
  });

  it("converts the broker CA from PEM to DER", () => {
    const der = pemToDer("-----BEGIN CERTIFICATE-----\nAQIDBA==\n-----END CERTIFICATE-----\n");
    expect([...der]).toEqual([1, 2, 3, 4]);
    expect(() => pemToDer("not a certificate")).toThrow(UsageError);
  });
});

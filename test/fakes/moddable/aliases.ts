/**
 * Module specifier -> fake file: how tests and XS scenarios swap the Moddable runtime for the
 * fakes when bundling the real adapters (see test/esp32/bundle.ts).
 */
export const FAKE_MODULES: Record<string, string> = {
  timer: "timer.ts",
  time: "time.ts",
  preference: "preference.ts",
  "embedded:storage/flash": "embedded-storage-flash.ts",
  "embedded:update": "embedded-update.ts",
  "embedded:io/socket/tcp": "embedded-io-socket-tcp.ts",
  "embedded:io/analog": "embedded-io-analog.ts",
  securesocket: "securesocket.ts",
  crypt: "crypt.ts",
  net: "net.ts",
  wifi: "wifi.ts",
  sntp: "sntp.ts",
  "tether-esp": "tether-esp.ts",
  "tether-memory": "tether-memory.ts",
};

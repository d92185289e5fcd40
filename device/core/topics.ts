/** The MQTT topic namespace: tether/<deviceId>/<leaf>. docs/protocol.md is the reference. */
export const TOPIC_ROOT = "tether";

export const topics = (deviceId: string) => ({
  telemetry: `${TOPIC_ROOT}/${deviceId}/telemetry`,
  status: `${TOPIC_ROOT}/${deviceId}/status`,
  config: `${TOPIC_ROOT}/${deviceId}/config`,
  configResult: `${TOPIC_ROOT}/${deviceId}/config/result`,
  ota: `${TOPIC_ROOT}/${deviceId}/ota`,
});

/** What a device id may be, for error messages. */
export const DEVICE_ID_RULE = "1 to 48 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";

/**
 * Device ids become topic levels and client ids: keep them to a safe, short alphabet.
 * The regex is made inside the function: on the board the bundle is preloaded, and a RegExp
 * held in a module-level binding crashes XS once a GC has run (docs/esp32.md).
 */
export function isDeviceId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/.test(id);
}

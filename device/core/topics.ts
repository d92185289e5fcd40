/** The MQTT topic namespace: tether/<deviceId>/<leaf>. docs/protocol.md is the reference. */
export const TOPIC_ROOT = "tether";

export const topics = (deviceId: string) => ({
  telemetry: `${TOPIC_ROOT}/${deviceId}/telemetry`,
  status: `${TOPIC_ROOT}/${deviceId}/status`,
  config: `${TOPIC_ROOT}/${deviceId}/config`,
  configResult: `${TOPIC_ROOT}/${deviceId}/config/result`,
  ota: `${TOPIC_ROOT}/${deviceId}/ota`,
});

/** Device ids become topic levels and client ids: keep them to a safe, short alphabet. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/;

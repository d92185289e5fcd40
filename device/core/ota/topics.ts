/** OTA topics under tether/<deviceId>/ota/ (docs/protocol/ota.md). */
export const otaTopics = (deviceId: string) => ({
  /** backend → device, retained, QoS 1: the signed manifest envelope (empty payload = no offer). */
  manifest: `tether/${deviceId}/ota/manifest`,
  /** backend → device, retained, QoS 1: raw bytes of block n (decimal, from 0). */
  block: (n: number) => `tether/${deviceId}/ota/block/${n}`,
  blockPrefix: `tether/${deviceId}/ota/block/`,
  /** device → backend, retained, QoS 1: CBOR status. */
  status: `tether/${deviceId}/ota/status`,
});

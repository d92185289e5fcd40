/** OTA topics (docs/protocol/ota.md): the offer and status per device, the image blocks shared. */

/** The shared image blocks: one retained copy per image on the broker, whatever the fleet size. */
export const IMAGE_TOPIC_ROOT = "tether/ota/image/";

/** Block n (decimal, from 0) of the image whose SHA-256 is `imageHex` (64 lowercase hex digits). */
export function imageBlockTopic(imageHex: string, n: number): string {
  return `${IMAGE_TOPIC_ROOT}${imageHex}/block/${n}`;
}

/** Splits a shared block topic into image hash and block index text, or undefined for any other topic. */
export function parseImageBlockTopic(topic: string): { imageHex: string; index: string } | undefined {
  if (!topic.startsWith(IMAGE_TOPIC_ROOT)) return undefined;
  const rest = topic.slice(IMAGE_TOPIC_ROOT.length);
  const cut = rest.indexOf("/block/");
  if (cut < 0) return undefined;
  return { imageHex: rest.slice(0, cut), index: rest.slice(cut + "/block/".length) };
}

export const otaTopics = (deviceId: string) => ({
  /** backend → device, retained, QoS 1: the signed manifest envelope (empty payload = no offer). */
  manifest: `tether/${deviceId}/ota/manifest`,
  /** device → backend, retained, QoS 1: CBOR status. */
  status: `tether/${deviceId}/ota/status`,
});

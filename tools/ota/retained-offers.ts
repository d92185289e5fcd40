/**
 * Which devices the broker still holds an offer of an image for, read from the retained manifests
 * (tether/+/ota/manifest): what `tether ota push --clear` checks before it clears an image's
 * shared blocks, so that it never pulls blocks from under another device's download.
 */
import type { MqttClient } from "mqtt";
import { parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { toHex } from "../../device/core/ota/bytes";
import { otaTopics } from "../../device/core/ota/topics";

const ALL_MANIFESTS = "tether/+/ota/manifest";
/** The broker sends retained messages right after the SUBACK: a pause this long ends the burst. */
const RETAINED_QUIET_MS = 500;
/** Longest wait for the retained burst (a fleet of 10,000 offers is well within it on loopback). */
const RETAINED_MAX_MS = 10_000;

/**
 * Device ids other than `self` whose retained manifest offers the image `imageHex`, or undefined
 * when that cannot be known: `self`'s own retained manifest (published by the caller and not yet
 * cleared) never arrived, so this account cannot read retained manifests (an ACL without
 * `read tether/+/ota/manifest`) and an empty answer would mean nothing.
 */
export async function otherDevicesOffered(client: MqttClient, imageHex: string, self: string): Promise<string[] | undefined> {
  const own = otaTopics(self).manifest;
  const others = new Set<string>();
  let sawOwn = false;
  let last = 0;
  const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }) => {
    const m = /^tether\/([^/]+)\/ota\/manifest$/.exec(topic);
    if (!m || !packet.retain || payload.length === 0) return;
    last = Date.now();
    if (topic === own) {
      sawOwn = true;
      return;
    }
    try {
      if (toHex(parseManifest(parseEnvelope(new Uint8Array(payload)).manifestBytes).sha256) === imageHex) others.add(m[1]);
    } catch {
      /* not a manifest a device would act on */
    }
  };
  client.on("message", onMessage);
  try {
    await client.subscribeAsync(ALL_MANIFESTS, { qos: 1 });
    const start = Date.now();
    last = start; // the burst starts at the SUBACK; each retained manifest moves `last` on
    while (Date.now() - last < RETAINED_QUIET_MS && Date.now() - start < RETAINED_MAX_MS) await new Promise((r) => setTimeout(r, 50));
    await client.unsubscribeAsync(ALL_MANIFESTS);
  } finally {
    client.off("message", onMessage);
  }
  return sawOwn ? [...others].sort() : undefined;
}

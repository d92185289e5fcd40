/**
 * Publishing and withdrawing offers on the broker (docs/protocol/ota.md): the image blocks once
 * per image, retained on tether/ota/image/<sha256>/block/<n> and shared by every device, and the
 * signed manifest per device, retained, QoS 1; an empty retained manifest withdraws the offer.
 * Blocks no live rollout needs are cleared (empty retained messages).
 */
import { toHex } from "../../device/core/ota/bytes";
import { imageBlockTopic, otaTopics } from "../../device/core/ota/topics";
import type { ServiceTransport } from "../transport/transport";
import type { LoadedBundle } from "./bundle";

const EMPTY = new Uint8Array(0);

export class OfferPublisher {
  /** Image hash (hex) → block count, for every image whose blocks this publisher left retained. */
  private readonly images = new Map<string, number>();

  constructor(
    private readonly transport: ServiceTransport,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * The image's blocks (the first time only), then the manifest, all sent at once: MQTT keeps the
   * order of one client's messages, so a device that sees the manifest finds every block
   * retained. (Not waiting for each PUBACK also keeps the publishing synchronous under the
   * simulator's virtual clock.)
   */
  offer(deviceId: string, bundle: LoadedBundle): Promise<void> {
    const sent = this.publishImage(bundle);
    sent.push(this.transport.publish(otaTopics(deviceId).manifest, bundle.envelope, { qos: 1, retain: true }));
    return Promise.all(sent).then(
      () => undefined,
      (err) => this.log(`rollout: offer to ${deviceId} not published: ${(err as Error).message}`),
    );
  }

  withdraw(deviceId: string): Promise<void> {
    return this.transport
      .publish(otaTopics(deviceId).manifest, EMPTY, { qos: 1, retain: true })
      .catch((err) => this.log(`rollout: withdrawal for ${deviceId} not published: ${(err as Error).message}`));
  }

  /** Clears the retained blocks of every image this publisher published that is not in `needed` (hex hashes). */
  clearExcept(needed: Set<string>): Promise<void> {
    const sent: Promise<unknown>[] = [];
    for (const [hex, count] of [...this.images]) {
      if (needed.has(hex)) continue;
      this.images.delete(hex);
      for (let n = 0; n < count; n++) sent.push(this.transport.publish(imageBlockTopic(hex, n), EMPTY, { qos: 1, retain: true }));
      this.log(`rollout: image ${hex.slice(0, 12)}… no longer needed: ${count} retained blocks cleared`);
    }
    return Promise.all(sent).then(
      () => undefined,
      (err) => this.log(`rollout: clearing image blocks failed: ${(err as Error).message}`),
    );
  }

  private publishImage(bundle: LoadedBundle): Promise<unknown>[] {
    const hex = imageHexOf(bundle);
    if (this.images.has(hex)) return [];
    this.images.set(hex, bundle.blocks.length);
    return bundle.blocks.map((b, i) =>
      this.transport.publish(imageBlockTopic(hex, i), b, { qos: 1, retain: true }).catch((err) => {
        this.images.delete(hex); // published again with the next offer
        throw err;
      }),
    );
  }
}

/** The hex SHA-256 of a bundle's image: the name of its shared block topics. */
export function imageHexOf(bundle: LoadedBundle): string {
  return toHex(bundle.manifest.sha256);
}

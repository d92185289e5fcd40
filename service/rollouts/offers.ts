/**
 * Publishing and withdrawing offers on the broker (docs/protocol/ota.md): the image blocks and
 * the signed manifest, retained, QoS 1; an empty retained manifest withdraws the offer.
 */
import { otaTopics } from "../../device/core/ota/topics";
import type { ServiceTransport } from "../transport/transport";
import type { LoadedBundle } from "./bundle";

const EMPTY = new Uint8Array(0);

export class OfferPublisher {
  constructor(
    private readonly transport: ServiceTransport,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Blocks first, then the manifest, all sent at once: MQTT keeps the order of one client's
   * messages, so a device that sees the manifest finds every block retained. (Not waiting for each
   * PUBACK also keeps the publishing synchronous under the simulator's virtual clock.)
   */
  offer(deviceId: string, bundle: LoadedBundle): Promise<void> {
    const t = otaTopics(deviceId);
    const sent = bundle.blocks.map((b, i) => this.transport.publish(t.block(i), b, { qos: 1, retain: true }));
    sent.push(this.transport.publish(t.manifest, bundle.envelope, { qos: 1, retain: true }));
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
}

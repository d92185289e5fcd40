/**
 * The fleet side of a hostile publisher fault (scenario kind "hostile", hostile.ts): what it
 * publishes to one device, through the fleet's virtual broker, and what the fleet's books
 * remember so the checks can tell whether the device stayed online, lost nothing and never
 * installed a withdrawn offer. Node-free.
 */
import { otaTopics } from "../../device/core/ota/topics";
import type { SeededRandom } from "../virtual/random";
import type { FleetDevice } from "./device";
import type { VirtualFleet } from "./engine";
import { DUPLICATE_EVERY_MS, DUPLICATES, hostilePayload, hostileTopic, poisonedTopics, WITHDRAW_AFTER_MS } from "./hostile";
import type { Fault } from "./scenario";

type HostileFault = Extract<Fault, { kind: "hostile" }>;

export function publishHostile(fleet: VirtualFleet, dev: FleetDevice, f: HostileFault, r: SeededRandom): void {
  const broker = fleet.broker;
  const book = fleet.bookOf(dev);
  switch (f.message) {
    case "oversized":
    case "deep-cbor":
    case "garbage":
      broker.publishInternal(hostileTopic(dev.id, f.topic), hostilePayload(f.message, r, f), { qos: 1, retain: false });
      return;
    case "retained-poison":
      for (const [topic, payload] of poisonedTopics(dev.id, r)) broker.publishInternal(topic, payload, { qos: 1, retain: true });
      return;
    case "duplicate-offer": {
      const envelope = fleet.publishOffer(dev, f.firmware!, undefined, undefined);
      for (let k = 1; k <= DUPLICATES; k++) {
        fleet.clock.setTimeout(() => broker.publishInternal(otaTopics(dev.id).manifest, envelope, { qos: 1, retain: true }), k * DUPLICATE_EVERY_MS);
      }
      return;
    }
    case "withdrawn-offer": {
      const b = fleet.library.bundle(f.firmware!, undefined);
      fleet.publishOffer(dev, f.firmware!, undefined, undefined);
      fleet.clock.setTimeout(() => {
        (book.withdrawnVersions ??= new Set()).add(b.version);
        broker.publishInternal(otaTopics(dev.id).manifest, new Uint8Array(0), { qos: 1, retain: true });
      }, WITHDRAW_AFTER_MS);
      return;
    }
    case "version-mismatch":
      fleet.publishOffer(dev, f.firmware!, undefined, f.signedAs);
      return;
  }
}

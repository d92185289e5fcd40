/**
 * What clients sent to a VirtualBroker, PUBLISH by PUBLISH as it arrived (DUP flag and packet
 * id included), so tests can check that nothing acknowledged was lost and duplicates are
 * flagged. Node-free: the XS scenarios bundle it through test/link/world.ts.
 */
import type { VirtualBroker } from "../../host-sim/broker/virtual-broker";

export interface Received {
  clientId: string;
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: boolean;
  dup: boolean;
  packetId?: number;
  at: number;
}

/** Installs the broker's onReceive hook; the returned array fills as PUBLISHes arrive. */
export function recordReceived(broker: VirtualBroker): Received[] {
  const out: Received[] = [];
  broker.onReceive = (clientId, p) =>
    void out.push({ clientId, topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup, packetId: p.packetId, at: broker.clock.now() });
  return out;
}

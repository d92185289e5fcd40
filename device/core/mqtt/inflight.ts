/**
 * Outbound QoS 1 messages awaiting PUBACK on this boot, in RAM: packet ids live here and
 * nowhere else. What must survive a reboot is the link's outbox (../link/outbox.ts), which
 * hands its records to the client a few at a time; a reboot resends them from there.
 */

export interface InflightEntry {
  packetId: number;
  topic: string;
  payload: Uint8Array;
  retain: boolean;
  /** True once the PUBLISH may have reached the broker: a resend then carries DUP. */
  sent: boolean;
  /** Insertion order, so resends keep publish order across packet-id wrap. */
  order: number;
}

export class InflightStore {
  private readonly map = new Map<number, InflightEntry>();
  private nextOrder = 0;

  get size(): number {
    return this.map.size;
  }
  has(id: number): boolean {
    return this.map.has(id);
  }
  get(id: number): InflightEntry | undefined {
    return this.map.get(id);
  }

  add(packetId: number, topic: string, payload: Uint8Array, retain: boolean, sent: boolean): InflightEntry {
    const e: InflightEntry = { packetId, topic, payload, retain, sent, order: this.nextOrder++ };
    this.map.set(packetId, e);
    return e;
  }

  remove(id: number): InflightEntry | undefined {
    const e = this.map.get(id);
    if (e) this.map.delete(id);
    return e;
  }

  /** Entries in publish order (a Map iterates in insertion order). */
  entries(): InflightEntry[] {
    return [...this.map.values()];
  }
}

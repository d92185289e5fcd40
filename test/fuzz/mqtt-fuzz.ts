/**
 * Seeded fuzzing of the MQTT parser and client: random bytes and mutated valid packets,
 * fed with random fragmentation. Shared by the CI test (bounded) and `npm run fuzz` (long).
 * Node-free and deterministic: the same seed gives the same inputs.
 */
import { encodePacket, encodePublish, type Packet } from "../../device/core/mqtt/codec";
import { MqttClient, type MqttEvent } from "../../device/core/mqtt/client";
import { MqttParser } from "../../device/core/mqtt/parser";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { SeededRandom } from "../../host-sim/virtual/random";

const REASON = /^(malformed|oversized|truncated): /;
const MAX_PACKET = 4096;

export interface FuzzStats {
  inputs: number;
  packets: number;
  errors: number;
  reasons: Map<string, number>;
}

function str(r: SeededRandom, max: number): string {
  const n = r.below(max + 1);
  let s = "";
  const alphabet = "ab/c+#é水\u0001 ";
  for (let i = 0; i < n; i++) s += alphabet[r.below(alphabet.length)];
  return s;
}
function bin(r: SeededRandom, max: number): Uint8Array {
  const b = new Uint8Array(r.below(max + 1));
  r.fill(b);
  return b;
}
const id = (r: SeededRandom) => 1 + r.below(65535);

/** A valid packet of any type (topics may be invalid; the encoder rejects those, so we retry). */
export function randomPacket(r: SeededRandom): Uint8Array {
  for (;;) {
    try {
      return encodePacket(randomPacketValue(r));
    } catch {
      // invalid value for the encoder (e.g. wildcard topic): draw again
    }
  }
}

function randomPacketValue(r: SeededRandom): Packet {
  const q = r.below(3) as 0 | 1 | 2;
  switch (r.below(12)) {
    case 0: {
      const p: Packet = { type: "connect", protocolName: "MQTT", protocolLevel: 4, clientId: "c" + str(r, 10), cleanSession: r.below(2) === 0, keepAlive: r.below(65536) };
      if (r.below(2)) p.will = { topic: "w" + str(r, 10), payload: bin(r, 20), qos: q, retain: r.below(2) === 0 };
      if (r.below(2)) { p.username = str(r, 8); if (r.below(2)) p.password = bin(r, 8); }
      return p;
    }
    case 1: return { type: "connack", sessionPresent: r.below(2) === 0, returnCode: r.below(6) };
    case 2:
    case 3: {
      const p: Packet = { type: "publish", topic: "t" + str(r, 20), payload: bin(r, 200), qos: q, retain: r.below(2) === 0, dup: q > 0 && r.below(2) === 0 };
      if (q > 0) p.packetId = id(r);
      return p;
    }
    case 4: return { type: (["puback", "pubrec", "pubrel", "pubcomp", "unsuback"] as const)[r.below(5)], packetId: id(r) };
    case 5: return { type: "subscribe", packetId: id(r), subscriptions: [{ topic: "s" + str(r, 10), qos: q }] };
    case 6: return { type: "suback", packetId: id(r), returnCodes: [[0, 1, 2, 0x80][r.below(4)]] };
    case 7: return { type: "unsubscribe", packetId: id(r), topics: ["u" + str(r, 10)] };
    default: return { type: (["pingreq", "pingresp", "disconnect"] as const)[r.below(3)] };
  }
}

/** One fuzz input: random bytes, a mutated valid packet, or a few packets spliced. */
export function randomInput(r: SeededRandom): Uint8Array {
  const kind = r.below(10);
  if (kind === 0) return bin(r, 64);
  const parts: Uint8Array[] = [];
  const n = kind === 1 ? 2 + r.below(4) : 1;
  for (let i = 0; i < n; i++) parts.push(randomPacket(r));
  let b = Uint8Array.from(parts.flatMap((p) => [...p]));
  const mutations = kind >= 8 ? 0 : 1 + r.below(4);
  for (let m = 0; m < mutations && b.length > 0; m++) {
    const at = r.below(b.length);
    switch (r.below(6)) {
      case 0: b[at] ^= 1 << r.below(8); break; // bit flip
      case 1: b[at] = r.nextU32() & 0xff; break; // byte set
      case 2: b = b.slice(0, at); break; // truncate
      case 3: b = Uint8Array.from([...b.slice(0, at), r.nextU32() & 0xff, ...b.slice(at)]); break; // insert
      case 4: b = Uint8Array.from([...b.slice(0, at), ...b.slice(at + 1)]); break; // delete
      case 5: if (b.length > 1) b[1] = [0x80, 0xff, 0x7f, 0][r.below(4)]; break; // remaining length
    }
  }
  return b;
}

/** Feeds `count` inputs to fresh parsers; throws (with the seed) on any escaped exception or bad reason. */
export function fuzzParser(seed: number, count: number, stats?: FuzzStats): FuzzStats {
  const r = new SeededRandom(seed);
  const s = stats ?? { inputs: 0, packets: 0, errors: 0, reasons: new Map() };
  for (let i = 0; i < count; i++) {
    const input = randomInput(r);
    let error: string | undefined;
    let errorsSeen = 0;
    const parser = new MqttParser(() => s.packets++, (reason) => { error = reason; errorsSeen++; }, { maxPacketSize: MAX_PACKET });
    try {
      // Random fragmentation, including single bytes.
      for (let o = 0; o < input.length; ) {
        const n = 1 + r.below(Math.min(16, input.length - o));
        parser.push(input.subarray(o, o + n));
        o += n;
      }
    } catch (e) {
      throw new Error(`fuzz seed ${seed}, input #${i} [${[...input].join(",")}]: parser threw ${String(e)}`);
    }
    if (errorsSeen > 1) throw new Error(`fuzz seed ${seed}, input #${i}: onError called ${errorsSeen} times`);
    if (error !== undefined) {
      if (!REASON.test(error)) throw new Error(`fuzz seed ${seed}, input #${i}: unclear reason "${error}"`);
      s.errors++;
      const key = error.replace(/[0-9]+/g, "N");
      s.reasons.set(key, (s.reasons.get(key) ?? 0) + 1);
    }
    s.inputs++;
  }
  return s;
}

/**
 * Feeds inputs to a connected client over the virtual network: the client must never throw,
 * must emit at most one "closed" per connection, and must leave no timer behind once closed.
 */
export function fuzzClient(seed: number, count: number): { inputs: number; closed: number } {
  const r = new SeededRandom(seed);
  let closed = 0;
  for (let i = 0; i < count; i++) {
    const clock = new VirtualClock();
    const net = new VirtualNetwork(clock);
    const events: MqttEvent[] = [];
    net.listen("b", 1, () => ({ onConnect() {}, onData() {}, onClose() {} }));
    const client = new MqttClient(
      { clock, network: net, log: () => {} },
      { clientId: "f", keepAliveSec: 60, cleanSession: true, maxPacketSize: MAX_PACKET },
      (e) => events.push(e),
    );
    client.subscribe([{ topic: "#", qos: 1 }]);
    client.connect({ host: "b", port: 1 });
    clock.advance(20);
    const server = net.openLinks()[0].server!;
    server.write(Uint8Array.of(0x20, 2, 0, 0)); // a valid CONNACK first
    try {
      server.write(randomInput(r));
      if (r.below(2)) server.write(encodePublish({ topic: "x", payload: bin(r, 10), qos: 1, packetId: id(r) }));
      clock.advance(100);
      if (client.connected) client.disconnect();
      clock.advance(100);
    } catch (e) {
      throw new Error(`client fuzz seed ${seed}, input #${i}: client threw ${String(e)}`);
    }
    const c = events.filter((e) => e.type === "closed").length;
    if (c !== 1) throw new Error(`client fuzz seed ${seed}, input #${i}: ${c} closed events`);
    if (clock.pending() !== 0) throw new Error(`client fuzz seed ${seed}, input #${i}: ${clock.pending()} timers left`);
    closed += c;
  }
  return { inputs: count, closed };
}

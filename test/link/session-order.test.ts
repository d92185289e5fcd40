/**
 * What the device sends after a lost session and after its own restart, packet by packet,
 * as docs/protocol/mqtt.md states it. Reconnect within a boot: CONNECT, the unacknowledged
 * QoS 1 PUBLISHes (DUP), SUBSCRIBE, the retained "online", then further telemetry. After a
 * reboot: CONNECT, SUBSCRIBE, "online", then the outbox's records (the first with DUP). The SUBSCRIBE is repeated after a
 * restart even when the broker kept the session (the device does not persist SUBACKs), and
 * not after a plain reconnect to a kept session.
 */
import { describe, expect, it } from "vitest";
import { VirtualDevice, makeWorld } from "./world";

const NAMES: Record<number, string> = { 1: "CONNECT", 3: "PUBLISH", 4: "PUBACK", 8: "SUBSCRIBE", 12: "PINGREQ", 14: "DISCONNECT" };

function capture(w: ReturnType<typeof makeWorld>) {
  const sent: string[] = [];
  w.net.transmitFault = (_l, from, b) => {
    if (from === "client") {
      const type = b[0] >> 4;
      let label = NAMES[type] ?? String(type);
      if (type === 3) {
        const tl = (b[2] << 8) | b[3]; // short packets here: one length byte
        label += ` ${new TextDecoder().decode(b.subarray(4, 4 + tl)).replace(/^tether\/s1\//, "")}${b[0] & 8 ? " DUP" : ""}`;
      }
      sent.push(label);
    }
    return undefined;
  };
  return sent;
}

describe("packet order after a lost session and after a restart", () => {
  it("lost session: resends first, then SUBSCRIBE, then online, then new telemetry", () => {
    const w = makeWorld(3);
    const dev = new VirtualDevice(w, "s1", {}, 0);
    dev.link.subscribe([{ topic: "tether/s1/config", qos: 1 }]);
    w.clock.advance(60_000);
    w.broker.faults.noPuback = true;
    dev.sendOne();
    w.clock.advance(1000);
    const sent = capture(w);
    w.broker.faults.noPuback = false;
    w.broker.restart({ loseSessions: true });
    w.clock.advance(100);
    expect(dev.link.state).not.toBe("online");
    dev.sendOne(); // queued while the link is down
    w.clock.advance(120_000);
    const afterConnect = sent.slice(sent.indexOf("CONNECT")).filter((p) => p !== "PINGREQ");
    expect(afterConnect.slice(0, 5)).toEqual(["CONNECT", "PUBLISH telemetry DUP", "SUBSCRIBE", "PUBLISH status", "PUBLISH telemetry"]);
    expect(dev.events.some((x) => x.e.type === "state" && x.e.detail === "new session")).toBe(true);
  });

  it("restart with the session kept: SUBSCRIBE again, then the outbox resends; plain reconnect: no SUBSCRIBE", () => {
    const w = makeWorld(4);
    const dev = new VirtualDevice(w, "s1", {}, 0);
    const subscribe = () => dev.link.subscribe([{ topic: "tether/s1/config", qos: 1 }]);
    subscribe();
    w.clock.advance(60_000);
    let sent = capture(w);
    w.net.dropAll();
    w.clock.advance(120_000);
    expect(dev.events.some((x) => x.e.type === "state" && x.e.detail === "session present")).toBe(true);
    expect(sent.filter((p) => p !== "PINGREQ").slice(0, 2)).toEqual(["CONNECT", "PUBLISH status"]);
    w.broker.faults.noPuback = true;
    dev.sendOne();
    w.clock.advance(1000);
    dev.powerCut();
    w.broker.faults.noPuback = false;
    sent = capture(w);
    dev.boot();
    subscribe();
    w.clock.advance(120_000);
    const after = sent.filter((p) => p !== "PINGREQ");
    // After a reboot the client's RAM window is empty at CONNACK: the outbox's records follow
    // the "online" status, the first of them with DUP (it may have gone out before the reboot).
    expect(after.slice(0, 4)).toEqual(["CONNECT", "SUBSCRIBE", "PUBLISH status", "PUBLISH telemetry DUP"]);
  });
});

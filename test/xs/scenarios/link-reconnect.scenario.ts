// The link's reconnect logic in XS: virtual devices with the real Link (client, connection
// manager, offline queue) against the virtual broker, through a broker restart, a half-open
// link, CONNACK timeouts, an authorisation refusal, a mid-packet drop, a reboot with QoS 1 in
// flight, and a 200-device reconnect storm. Every state change, delay and delivery summary
// goes into the trace, so Node and XS must agree line for line.
import type { ScenarioHost } from "../scenario-host";
import { VirtualDevice, delivery, makeWorld } from "../../link/world";
import { runStorm } from "../../link/storm-sim";

const MIN = 60_000;

export function run(host: ScenarioHost): void {
  const w = makeWorld(20261126);
  const devs = [new VirtualDevice(w, "xa"), new VirtualDevice(w, "xb", { connackTimeoutMs: 5000 }), new VirtualDevice(w, "xc", {}, 7000)];
  const seen = new Map<VirtualDevice, number>();
  const flush = () => {
    for (const d of devs) {
      const from = seen.get(d) ?? 0;
      for (const x of d.events.slice(from)) {
        if (x.e.type === "state") host.emit(`${x.at} ${d.id} ${x.e.state} ${x.e.detail}`);
      }
      seen.set(d, d.events.length);
    }
  };
  const phase = (name: string, ms: number, fault: () => void) => {
    fault();
    host.emit(`${w.clock.now()} fault ${name}`);
    w.clock.advance(ms);
    flush();
  };
  phase("none", 2 * MIN, () => {});
  phase("broker restart (sessions lost)", 2 * MIN, () => w.broker.restart({ loseSessions: true }));
  phase("half-open", 3 * MIN, () => w.net.blackholeAll());
  phase("silent CONNACK", 3 * MIN, () => {
    w.broker.faults.noConnack = true;
    w.net.dropAll();
  });
  phase("CONNACK back", 5 * MIN, () => (w.broker.faults.noConnack = false));
  phase("auth refused", 40 * MIN, () => {
    w.broker.faults.refuseCode = 5;
    w.net.dropAll();
  });
  phase("auth ok", 35 * MIN, () => (w.broker.faults.refuseCode = 0));
  let cuts = 0;
  phase("mid-packet drops", 3 * MIN, () => {
    w.net.transmitFault = (_l, from, b) => (from === "client" && b[0] >> 4 === 3 && b.length > 20 && cuts++ < 2 ? { deliverBytes: 9, then: "drop" } : undefined);
  });
  phase("PUBACKs stop", MIN, () => {
    w.net.transmitFault = undefined;
    w.broker.faults.noPuback = true;
  });
  phase("reboot xa with QoS 1 in flight", 5000, () => devs[0].powerCut());
  phase("PUBACKs back, xa boots", 5 * MIN, () => {
    w.broker.faults.noPuback = false;
    devs[0].boot();
  });
  for (const d of devs) d.stopTelemetry();
  w.clock.advance(10 * MIN);
  flush();
  for (const d of devs) {
    const r = delivery(d);
    host.emit(`${d.id} accepted=${r.accepted} delivered=${r.delivered} missing=${r.missing.length} dropped=${r.dropped} dups=${r.duplicates} dupFlag=${r.dupFlagged} inOrder=${r.inOrder} reconnects=${d.link.stats().reconnects} state=${d.link.state}`);
  }
  host.meter();
  const storm = runStorm({ devices: 200, seed: 7, jitter: "full" });
  host.emit(`storm ${JSON.stringify(storm)}`);
}

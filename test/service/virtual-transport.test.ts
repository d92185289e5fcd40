// The same service on host-sim's virtual broker under the virtual clock; a service killed
// between deliveries gets the undelivered messages again from the persistent session.
import { describe, expect, it } from "vitest";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualServiceSession } from "../../host-sim/fleet/service-transport";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { offsetClock } from "../../service/clock";
import { openDatabase } from "../../service/db/open";
import { FleetService } from "../../service/fleet-service";
import { telemetry } from "./helpers";

describe("fleet service on the virtual broker", () => {
  it("ingests under the virtual clock and survives a kill between deliveries", async () => {
    const clock = new VirtualClock();
    const broker = new VirtualBroker(new VirtualNetwork(clock)).start();
    const session = new VirtualServiceSession(broker, clock);
    const db = openDatabase(":memory:");
    const sclock = offsetClock(clock, 1_790_000_000_000);
    const first = new FleetService({ db, clock: sclock, transport: session.attach() });
    await first.start();
    broker.publishInternal("tether/d1/status", new TextEncoder().encode("online"), { qos: 1, retain: true });
    broker.publishInternal("tether/d1/telemetry", telemetry("d1", 1), { qos: 1 });
    clock.advance(1);
    expect(first.registry.get("d1")).toMatchObject({ online: 1, last_seq: 1, last_seen: 1_790_000_000_000 });
    // Killed with a message routed but not yet delivered.
    broker.publishInternal("tether/d1/telemetry", telemetry("d1", 2), { qos: 1 });
    first.transport.close();
    clock.advance(1000);
    const second = new FleetService({ db, clock: sclock, transport: session.attach() });
    await second.start();
    clock.advance(1);
    expect(second.registry.get("d1")).toMatchObject({ last_seq: 2, telemetry_count: 2 });
    // A stale retained "offline" (a resubscribe, a cluster failover) is corrected by the next telemetry.
    broker.publishInternal("tether/d1/status", new TextEncoder().encode("offline"), { qos: 1, retain: true });
    clock.advance(1);
    expect(second.registry.get("d1")).toMatchObject({ online: 0 });
    broker.publishInternal("tether/d1/telemetry", telemetry("d1", 3), { qos: 1 });
    clock.advance(1);
    expect(second.registry.get("d1")).toMatchObject({ online: 1, last_seq: 3 });
    session.close();
  });
});

// A battery read must not land on a packet the agent's MQTT client has just written (a keep-alive
// PINGREQ, an ack, an outbox drain): the cell sags under the TX burst by I·R. In faults-small the
// reads between sampling ticks (maxBatteryReadIntervalMs) met a PINGREQ written at the same
// instant on 1,572 of 58,004 reads (bench/lib/battery-read-tx.ts); the agent now defers a read
// that comes within REPORT_TX_GUARD_MS of a write, and keeps its last readings.
import { describe, expect, it } from "vitest";
import { fleet, loadScenario } from "../fleet/helpers";

const FILE = "test/battery/read-beside-tx.test.ts";

describe("battery reads beside other TX (faults-small, fixed seed)", () => {
  it("no read lands in a packet's TX burst in its simulated day", async () => {
    const scenario = loadScenario("faults-small.json");
    const f = await fleet(scenario);
    const counts = { reads: 0, duringTx: 0 };
    for (const d of f.devices) {
      const cell = d.battery; // the device's BatteryAdc port is this object
      const read = cell.read.bind(cell);
      cell.read = () => {
        counts.reads++;
        if (cell.busy("radio")) counts.duringTx++;
        return read();
      };
    }
    f.run();
    const hint = `seed ${scenario.seed} (replay: npx vitest run ${FILE})`;
    expect(counts.reads, hint).toBeGreaterThan(10_000);
    expect(counts.duringTx, hint).toBe(0);
  }, 120_000);
});

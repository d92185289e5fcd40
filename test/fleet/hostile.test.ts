/**
 * A hostile publisher (scenarios/hostile-*.json, one message kind each): every device (one of
 * them inside XS with the ESP32's stack and Moddable's globals where no download is involved) must stay online, lose no
 * telemetry, never loop through restarts and never install a withdrawn offer. The scenario's
 * own checks say so; the run must also have reached the devices (they saw the messages).
 * Replay: npx tether sim --scenario scenarios/hostile-<kind>.json
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HOSTILE_MESSAGES } from "../../host-sim/fleet/hostile";
import { closeXs, fleet, loadScenario, ROOT } from "./helpers";

const files = readdirSync(join(ROOT, "scenarios")).filter((f) => /^hostile-.*\.json$/.test(f)).sort();

afterAll(() => closeXs());

describe("a hostile publisher", () => {
  it("has committed scenarios, each of one known message kind", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const s = loadScenario(f);
      const kinds = s.faults.flatMap((x) => (x.kind === "hostile" ? [x.message] : []));
      expect(kinds.length, f).toBeGreaterThan(0);
      for (const k of kinds) expect(HOSTILE_MESSAGES, f).toContain(k);
      expect(f).toBe(`hostile-${kinds[0]}.json`);
      // A download inside XS costs about a CPU-minute (xs-lockstep.json covers OTA in XS); the
      // other kinds run with a device inside XS.
      const downloads = kinds.some((k) => k.endsWith("-offer") || k === "version-mismatch");
      if (!downloads) expect(s.xsDevices, `${f}: some devices run inside XS`).toBeGreaterThan(0);
    }
  });

  for (const file of files) {
    it(`${file}: the fleet stays online and loses nothing`, async () => {
      const scenario = loadScenario(file);
      const f = await fleet(scenario);
      const s = f.run();
      const replay = `replay: npx tether sim --scenario scenarios/${file}`;
      expect(f.devices.some((d) => d.inXs), replay).toBe((scenario.xsDevices ?? 0) > 0);
      expect(s.traceEvents, replay).toBeGreaterThan(0);
      for (const c of s.checks) expect(c.ok, `${c.name}: ${c.detail}; ${replay}`).toBe(true);
      expect(s.telemetry.lost, replay).toBe(0);
      expect(s.onlineAtEnd, replay).toBe(s.devices - s.battery.dead);
      expect(s.faults.crashes, `${replay}: a hostile message must not crash a device`).toBe(0);
    }, 600_000);
  }
});

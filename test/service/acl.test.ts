// The fleet service needs only the rights docs/security.md gives the backend account: a rollout
// runs on a Mosquitto configured with the generated ACL (tools/broker/acl.ts), password file and
// per-device accounts, the service logged in as `fleet`.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { mosquittoAcl } from "../../tools/broker/acl";
import { mosquittoPasswordLine } from "../../tools/broker/mosquitto-passwd";
import { realClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import { startMosquitto } from "../helpers/mosquitto";
import { tempDir } from "../helpers/temp";
import { waitUntil } from "./helpers";
import { makeBundle, startDevice } from "./scripted-fleet";

describe("fleet service on a broker with the generated ACL", () => {
  it("ingests and runs a rollout with the backend account only", async () => {
    const ids = ["acl-0", "acl-1", "acl-2"];
    const pw = (u: string) => `pw-${u}-0123456789abcdef`;
    const passwd = ["fleet", ...ids].map((u) => mosquittoPasswordLine(u, pw(u))).join("\n") + "\n";
    const broker = await startMosquitto({
      noAnonymous: true,
      files: { passwd, acl: mosquittoAcl(["fleet"]) },
      config: ["password_file {dir}/passwd", "acl_file {dir}/acl", "use_username_as_clientid true"],
    });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const dir = tempDir("fleet-acl-");
    const log: string[] = [];
    const service = new FleetService({
      db: path.join(dir, "fleet.db"), clock: realClock, rollouts: { tickMs: 100, healthEveryMs: 1_000_000 },
      transport: new MqttSocketTransport({ url, clientId: "fleet", username: "fleet", password: pw("fleet"), log: (l) => log.push(l) }),
    });
    const devices = [];
    try {
      await service.start();
      for (const id of ids) devices.push(await startDevice(url, id, 1_002_000, "succeed", { password: pw(id), reportMs: 300 }));
      await waitUntil(() => service.registry.list({ limit: 10, offset: 0, prefix: "acl-", firmware: "1.2.0" }).total === 3, 10_000, "devices registered");
      const r = service.rollouts.create({
        bundle: makeBundle(path.join(dir, "bundle"), 1_003_000), target: "firmware < 1.3.0", canary: 3, waves: [100], ratePerMinute: 600, maxFailurePct: 10,
        minExecuted: 3, timeoutMs: 60_000, soakMs: 0, successThresholdPct: 80, minBatteryPct: 30, maxRetries: 1, maxInterrupted: 3, health: { marginPct: 20, minDevices: 10, alpha: 0.001 },
      });
      await waitUntil(() => service.rollouts.status(r.id).status === "completed", 20_000, "completion");
      expect(service.rollouts.status(r.id).counts).toMatchObject({ succeeded: 3 });
      expect(log.filter((l) => /refused/.test(l))).toEqual([]);
    } finally {
      for (const d of devices) await d.stop();
      await service.close();
      await broker.stop();
    }
  }, 60_000);
});

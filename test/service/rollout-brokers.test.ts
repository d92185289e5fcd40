// Rollouts end to end through real brokers (aedes, Mosquitto) with scripted devices: the HTTP
// API creates the rollout; canary, waves, soak and the rate are respected; failures over the
// threshold halt it and withdraw pending offers; pause/resume/cancel; every device offered once.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { realClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import { tempDir } from "../helpers/temp";
import { realBrokers, waitUntil } from "./helpers";
import { makeBundle, startDevice, type Script } from "./scripted-fleet";

const brokers = realBrokers();

async function setup(url: string, scripts: Script[], prefix: string) {
  const dir = tempDir("fleet-rollout-");
  const bundle = makeBundle(path.join(dir, "bundle"), 1_003_000);
  const service = new FleetService({
    db: path.join(dir, "fleet.db"), clock: realClock,
    transport: new MqttSocketTransport({ url, clientId: `svc-${prefix}` }), rollouts: { tickMs: 100, healthEveryMs: 1_000_000 },
  });
  await service.start();
  const at = await service.listen({ host: "127.0.0.1", port: 0 });
  const devices = await Promise.all(scripts.map((s, i) => startDevice(url, `${prefix}-${String(i).padStart(3, "0")}`, 1_002_000, s)));
  // Registered with their firmware (the first telemetry), not only their retained status.
  await waitUntil(() => service.registry.list({ limit: 1, offset: 0, prefix, firmware: "1.2.0" }).total === scripts.length, 10_000, "devices registered");
  for (const d of devices) service.registry.setLabels(d.id, { group: "field" }, Date.now());
  const post = async (p: string, body?: unknown) => {
    const res = await fetch(`${at.url}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const get = async (p: string) => (await (await fetch(`${at.url}${p}`)).json()) as Record<string, any>;
  const close = async () => {
    for (const d of devices) await d.stop();
    await service.close();
  };
  return { service, devices, bundle, post, get, close };
}

/** Creates the rollout through the HTTP API and waits until it is `until`; returns its id, the creation answer and its status then. */
async function runRollout(f: Awaited<ReturnType<typeof setup>>, plan: Record<string, unknown>, until: "completed" | "halted") {
  const created = await f.post("/api/rollouts", plan);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = created.body.id as string;
  await waitUntil(() => f.service.rollouts.status(id).status === until, 20_000, until);
  return { id, created: created.body, s: await f.get(`/api/rollouts/${id}`) };
}

describe.each(brokers)("rollouts through $name", ({ name, url }) => {
  it("runs canary then waves to completion, each device offered once", async () => {
    const f = await setup(url(), Array(12).fill("succeed"), `ok${name}`);
    try {
      const { created, s } = await runRollout(f, {
        bundle: f.bundle, target: "firmware < 1.3.0 and group = field", canary: 2, waves: "50%,100%", rate: "600/min",
        maxFailure: "10%", minExecuted: 2, timeout: "1m", soak: "300ms",
      }, "completed");
      expect(created.devices).toBe(12);
      expect(s.counts).toMatchObject({ total: 12, succeeded: 12, failures: 0 });
      // The waves started in order: each one after the previous one succeeded and soaked.
      const events = (s.events as { kind: string; at: number; detail: any }[]).reverse();
      const kinds = events.map((e) => e.kind).filter((k) => k.startsWith("wave") || k === "completed");
      expect(kinds).toEqual(["wave-succeeded", "wave-started", "wave-succeeded", "wave-started", "wave-succeeded", "completed"]);
      const succeededAt = events.filter((e) => e.kind === "wave-succeeded").map((e) => e.at);
      const startedAt = events.filter((e) => e.kind === "wave-started").map((e) => e.at);
      expect(startedAt[0] - succeededAt[0]).toBeGreaterThanOrEqual(300);
      for (const d of f.devices) expect(d.offers).toEqual([1_003_000]);
      expect(f.service.registry.get(f.devices[0].id)).toMatchObject({ firmware_num: 1_003_000 });
    } finally {
      await f.close();
    }
  });

  it("re-offers an ambiguous rejection (105 cause 6) once with the retry marker, and it lands", async () => {
    const f = await setup(url(), ["succeed", "ambiguous", "succeed", "succeed", "rollback"], `amb${name}`);
    try {
      const { s } = await runRollout(f, {
        bundle: f.bundle, target: "firmware < 1.3.0", canary: 5, waves: "100%", rate: "600/min", maxFailure: "50%", minExecuted: 4, soak: "100ms",
      }, "completed");
      expect(s.counts).toMatchObject({ total: 5, succeeded: 4, failures: 1 });
      const [amb, crash] = [f.devices[1], f.devices[4]];
      expect([amb.offers, amb.markedOffers]).toEqual([[1_003_000, 1_003_000], [1_003_000]]);
      expect(amb.running).toBe(1_003_000);
      expect(crash.offers).toEqual([1_003_000]); // a crash (cause 3) is never re-offered
      expect(crash.markedOffers).toEqual([]);
    } finally {
      await f.close();
    }
  });

  it("halts on the failure rate, withdraws pending offers, and counts power-cut trials apart", async () => {
    const scripts: Script[] = [
      "succeed", "rollback", "rollback", { interrupted: 1 }, "silent", "succeed",
      ...Array(6).fill("succeed"),
    ];
    const f = await setup(url(), scripts, `bad${name}`);
    try {
      const { id, s } = await runRollout(f, {
        bundle: f.bundle, target: "firmware < 1.3.0", canary: 12, waves: "100%", rate: "600/min", maxFailure: "15%", minExecuted: 4, soak: "10s",
      }, "halted");
      expect(s.halt.rule).toBe("failure-rate");
      // It halts as soon as the share passes 15 % of at least 4 executed (the rollbacks may come first or last).
      expect(s.halt.detail).toMatchObject({ maxFailurePct: 15, minExecuted: 4 });
      expect(s.halt.detail.executed).toBeGreaterThanOrEqual(4);
      expect(s.halt.detail.failures * 100).toBeGreaterThan(15 * s.halt.detail.executed);
      // The silent device's pending offer is withdrawn (back to queued, for a resume).
      const silent = f.devices.find((d) => d.script === "silent")!;
      const devs = (await f.get(`/api/rollouts/${id}/devices`)).devices as { deviceId: string; state: string; interrupted: number }[];
      if (silent.offers.length > 0) expect(devs.find((d) => d.deviceId === silent.id)!.state).toBe("queued");
      const cut = f.devices.find((d) => typeof d.script === "object")!;
      if (cut.offers.length > 0) expect(devs.find((d) => d.deviceId === cut.id)!.interrupted).toBeGreaterThanOrEqual(1);
      // Pause is refused while halted; cancel ends it; the audit table saw every call.
      expect((await f.post(`/api/rollouts/${id}/pause`)).status).toBe(409);
      expect((await f.post(`/api/rollouts/${id}/cancel`)).body.status).toBe("cancelled");
      const audit = f.service.db.prepare("SELECT method, path, status FROM audit ORDER BY id").all();
      expect(audit).toEqual([
        { method: "POST", path: "/api/rollouts", status: 201 },
        { method: "POST", path: `/api/rollouts/${id}/pause`, status: 409 },
        { method: "POST", path: `/api/rollouts/${id}/cancel`, status: 200 },
      ]);
    } finally {
      await f.close();
    }
  });
});

/**
 * Config messages and flash wear, counted at the KV port over real MQTT bytes (virtual
 * broker): a refused or unchanged request writes nothing, a change writes once, and a flood of
 * changes is held to CONFIG_WRITE_BURST writes per CONFIG_WRITE_WINDOW_MS, the rest refused
 * with code 5. Before: every request cost 2–3 writes (the QoS 1 result went through the
 * persistent in-flight store) with no limit.
 */
import { describe, expect, it } from "vitest";
import { CONFIG_WRITE_BURST, CONFIG_WRITE_WINDOW_MS, ConfigChannel } from "../../device/core/config/config-channel";
import { CONFIG_CODE, decodeConfigResult, encodeConfigRequest } from "../../device/core/config/telemetry-config";
import { MqttClient } from "../../device/core/mqtt/client";
import type { TelemetryConfig } from "../../device/core/telemetry/reporter";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { CountingKv } from "../helpers/counting-kv";

function rig() {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const kv = new CountingKv();
  const results: ReturnType<typeof decodeConfigResult>[] = [];
  broker.subscribeInternal("tether/c1/config/result", (_t, p) => results.push(decodeConfigResult(p)));
  let config: TelemetryConfig = { sampleIntervalMs: 60_000, reportIntervalMs: 60_000 };
  const target = { get currentConfig() { return config; }, setConfig: (c: TelemetryConfig) => void (config = c) };
  let channel: ConfigChannel | undefined;
  const client = new MqttClient({ clock, network, log: () => {} }, { clientId: "c1", keepAliveSec: 60, cleanSession: false }, (e) => {
    if (e.type === "connected") channel!.onConnected();
    if (e.type === "message") channel!.onMessage(e.topic, e.payload);
  });
  channel = new ConfigChannel("c1", client, target, kv, () => {}, clock);
  client.connect({ host: "broker", port: 1883 });
  clock.advance(1000);
  const send = (b: Uint8Array) => {
    broker.publishInternal("tether/c1/config", b, { qos: 1 });
    clock.advance(100);
  };
  return { clock, kv, results, send, config: () => config };
}

describe("config messages and KV writes", () => {
  it("refused and unchanged requests write nothing; a change writes once", () => {
    const r = rig();
    r.kv.reset();
    for (let i = 0; i < 20; i++) {
      r.send(encodeConfigRequest({ requestId: i, reportIntervalSec: 2 })); // out of range
      r.send(Uint8Array.from([0xa1, 0x09, 0x01])); // unknown key
      r.send(new Uint8Array(80).fill(0x81)); // nested too deep
      r.send(encodeConfigRequest({ requestId: i, reportIntervalSec: 60 })); // no change
    }
    expect(r.results).toHaveLength(80);
    expect(r.kv.writes).toBe(0);
    r.send(encodeConfigRequest({ reportIntervalSec: 120 }));
    expect(r.results.at(-1)).toMatchObject({ code: CONFIG_CODE.ok, reportIntervalSec: 120 });
    expect(r.kv.writes).toBe(1);
    expect([...r.kv.byPrefix.keys()]).toEqual(["tcfg"]);
  });

  it("a flood of changes is held to the write budget; refused changes are unwritten and say when to retry", () => {
    const r = rig();
    r.kv.reset();
    const windows = 3;
    for (let i = 0; i < 40 * windows; i++) {
      r.send(encodeConfigRequest({ requestId: i, reportIntervalSec: 60 + (i % 2) }));
      r.clock.advance(CONFIG_WRITE_WINDOW_MS / 40 - 100);
    }
    const ok = r.results.filter((x) => x.code === CONFIG_CODE.ok).length;
    const busy = r.results.filter((x) => x.code === CONFIG_CODE.tooFrequent);
    expect(ok + busy.length).toBe(40 * windows);
    expect(busy.length).toBeGreaterThan(0);
    // Each window spends its whole budget and no more (ok also counts unchanged requests, unwritten):
    // one write of "tcfg" per persisted change; every change after the first also writes its shadow
    // "~tcfg" and deletes it (util/cut-safe-kv.ts), the first has nothing to lose.
    expect(r.kv.byPrefix.get("tcfg")).toBe(CONFIG_WRITE_BURST * windows);
    expect(r.kv.writes).toBe(3 * CONFIG_WRITE_BURST * windows - 2);
    expect(busy[0].error).toMatch(/^too many config changes: retry in \d+ s$/);
    // The config in force is always the last accepted one.
    const lastOk = r.results.filter((x) => x.code === CONFIG_CODE.ok).at(-1)!;
    expect(r.config().reportIntervalMs).toBe(lastOk.reportIntervalSec * 1000);
  });
});

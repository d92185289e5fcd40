/**
 * The XS tier runs what ships: dist/xs/tether-agent.mjs as `npm run build:xs` makes it, inside
 * xsnap-worker built with the ESP32 manifest's 1,536-slot stack, after the device runtime has
 * deleted every global xsnap has and a Moddable device lacks (TextEncoder, TextDecoder, harden,
 * ...), so cbor-x and our code take the board's paths. Its ports are a virtual device's, over
 * xsnap's synchronous host command channel; the trace must equal the same bytes run on Node.
 * Any uncaught error or engine abort is a failed boot, never a silent exit 0.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentConfig, AgentEvent } from "../../device/core/agent";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import type { AgentInstance, FirmwareCode } from "../../host-sim/fleet/library";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { virtualDevicePorts } from "../../host-sim/virtual-device";
import { MODDABLE_MISSING } from "../../host-sim/xs/moddable-globals";
import { prepareXsRunner } from "../../host-sim/xs/prepare";
import type { NodeXsRunner } from "../../host-sim/xs/xs-runner";
import { evaluateImageCode } from "../../tools/ota/app-image";
import { buildXs } from "../../scripts/build.mjs";

const MINUTE = 60_000;
let dir = "";
let shipped: Uint8Array;
let xs: { runner: NodeXsRunner; close(): void };
let strict: { runner: NodeXsRunner; close(): void };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-shipped-"));
  // Exactly what `npm run build:xs` writes to dist/xs/tether-agent.mjs.
  const [agent] = await buildXs({ outDir: dir, esp32: false, log: () => {} });
  shipped = new Uint8Array(fs.readFileSync(agent.outFile));
  xs = await prepareXsRunner();
  // A small watchdog budget, for the image that never yields.
  strict = await prepareXsRunner({ meteringLimit: 20_000_000 });
}, 600_000);

afterAll(() => {
  xs?.close();
  strict?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const image = (source: string): FirmwareCode => ({ version: "fixture", exports: {}, payload: new TextEncoder().encode(source) });

function describeEvent(e: AgentEvent): string {
  switch (e.type) {
    case "telemetry":
      return `telemetry seq=${e.batch.seq} queued=${e.queued} ${hex(e.payload)}`;
    case "link":
      return `link ${e.state} ${e.detail}`;
    default:
      return `${e.type} ${JSON.stringify(e)}`;
  }
}

/** One device on a virtual broker: boots, reports, loses the network, comes back, stops. */
function runDevice(start: (ports: ReturnType<typeof virtualDevicePorts>["ports"], config: AgentConfig, observe: (e: AgentEvent) => void) => AgentInstance): string[] {
  const lines: string[] = [];
  const clock = new VirtualClock(0);
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const at = () => String(clock.now()).padStart(7, " ");
  broker.subscribeInternal("tether/+/telemetry", (topic, payload) => {
    lines.push(`${at()} backend ${topic} seq=${decodeTelemetryBatch(payload).seq} ${hex(payload)}`);
  });
  const device = virtualDevicePorts({ seed: 42, clock, network });
  device.wallClock.sync(1_790_000_000_000);
  const config: AgentConfig = { deviceId: "xs-1", brokers: ["mqtt://broker:1883"], firmwareVersion: "1.0.0", telemetry: { sampleIntervalMs: 10_000, reportIntervalMs: 30_000 } };
  const agent = start(device.ports, config, (e) => lines.push(`${at()} ${describeEvent(e)}`));
  clock.advance(3 * MINUTE);
  network.dropAll();
  lines.push(`${at()} fault: network drops`);
  clock.advance(3 * MINUTE);
  agent.stop();
  clock.runUntilIdle(clock.now() + 10 * MINUTE);
  lines.push(`${at()} broker published=${broker.stats.published} timers=${clock.pending()}`);
  return lines;
}

describe("the XS tier runs the shipped bundle with the board's limits", () => {
  it("dist/xs/tether-agent.mjs in XS (ESP32 stack, Moddable globals) gives Node's trace byte for byte", async () => {
    const mod = (await evaluateImageCode(shipped, "shipped")) as { Agent: new (...a: unknown[]) => AgentInstance };
    const node = runDevice((ports, config, observe) => {
      const a = new mod.Agent(ports, config, observe);
      a.start();
      return a;
    });
    const boot = xs.runner.boot({ version: "shipped", exports: {}, payload: shipped });
    expect(boot.crash).toBeUndefined();
    expect(boot.hung).toBe(false);
    const inXs = runDevice((ports, config, observe) => boot.start(ports, config, observe));
    boot.dispose();
    expect(inXs.join("\n")).toBe(node.join("\n"));
    // The trace is about something: online twice, telemetry made and received, a clean stop.
    expect(node.filter((l) => / link online /.test(l)).length).toBe(2);
    const made = node.filter((l) => / telemetry seq=/.test(l)).length;
    expect(made).toBeGreaterThanOrEqual(10);
    expect(node.filter((l) => / backend tether\/xs-1\/telemetry /.test(l)).length).toBeGreaterThanOrEqual(made);
    expect(node.at(-1)).toMatch(/timers=0$/);
  }, 300_000);

  it("removes every global xsnap has and a Moddable device lacks before the image loads", async () => {
    const probe = `const seen = ${JSON.stringify(MODDABLE_MISSING)}.filter((n) => n in globalThis);
if (seen.length) throw new Error("globals a Moddable device lacks: " + seen.join(","));
export class Agent {}`;
    // On Node (and in bare xsnap) they are there: the probe can fail.
    await expect(evaluateImageCode(image(probe).payload!, "probe")).rejects.toThrow(/TextEncoder,TextDecoder/);
    const boot = xs.runner.boot(image(probe));
    expect(boot.crash).toBeUndefined();
    boot.dispose();
    // Moddable's own `trace` stays.
    const trace = xs.runner.boot(image(`if (typeof trace !== "function") throw new Error("no trace"); export class Agent {}`));
    expect(trace.crash).toBeUndefined();
    trace.dispose();
  }, 120_000);

  it("has the ESP32 manifest's 1,536-slot stack: recursion xsnap's 4,096 slots allow overflows, and the boot fails", async () => {
    const recurse = (depth: number) => `function down(n) { return n === 0 ? 0 : 1 + down(n - 1); }
if (down(${depth}) !== ${depth}) throw new Error("wrong");
export class Agent {}`;
    const shallow = xs.runner.boot(image(recurse(100)));
    expect(shallow.crash).toBeUndefined();
    shallow.dispose();
    const deep = xs.runner.boot(image(recurse(400)));
    expect(deep.crash).toMatch(/stack overflow/);
    deep.dispose();
    // The limit is the engine's, not the code's: the same module runs on Node.
    expect(await evaluateImageCode(image(recurse(400)).payload!, "deep")).toBeDefined();
  }, 120_000);

  it("fails on any uncaught error: a module that throws at top level is a failed boot (xsnap -m would exit 0)", () => {
    const boot = xs.runner.boot(image(`throw new Error("boom at top level"); export class Agent {}`));
    expect(boot.crash).toBe("Error: boom at top level");
    boot.dispose();
    const noAgent = xs.runner.boot(image(`export const nothing = 1;`));
    expect(noAgent.crash).toBeUndefined();
    const ports = virtualDevicePorts({ seed: 1, clock: new VirtualClock(0), network: new VirtualNetwork(new VirtualClock(0)) }).ports;
    expect(() => noAgent.start(ports, {} as AgentConfig, () => {})).toThrow(/the image exports no Agent/);
    noAgent.dispose();
  }, 120_000);

  it("a top-level await that never settles is a hung image; code that never yields gets a watchdog reset", () => {
    const hang = xs.runner.boot(image(`await new Promise(() => {}); export class Agent {}`));
    expect(hang.hung).toBe(true);
    expect(hang.crash).toBeUndefined();
    hang.dispose();
    const spin = strict.runner.boot(image(`export class Agent { constructor() {} start() { for (;;) {} } stop() {} }`));
    expect(spin.crash).toBeUndefined();
    const ports = virtualDevicePorts({ seed: 1, clock: new VirtualClock(0), network: new VirtualNetwork(new VirtualClock(0)) }).ports;
    let err: unknown;
    try {
      spin.start(ports, {} as AgentConfig, () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: "WatchdogReset", watchdog: true });
    spin.dispose();
  }, 120_000);
});

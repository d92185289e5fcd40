/**
 * Devices inside XS (Node only): each boot of an XS device is one xsnap-worker process built
 * with the ESP32 manifest's 1,536-slot stack, running host-sim/xs/device-runtime.ts (only the
 * globals a Moddable device has) and the image's own module, the very bytes in the booted slot.
 * Its ports are this device's ports in the fleet: every call crosses the worker's command
 * channel synchronously, so XS devices share the fleet's virtual clock, network and flash in
 * lockstep, and the same seed gives the same trace with or without them.
 *
 * A delivery that spends more than the metering limit is a hung task: the worker aborts
 * ("too much computation") and the device gets a watchdog reset, as the ESP32's task watchdog
 * would give it. Any other abort (stack overflow, memory full) is a panic reset.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { AgentConfig, AgentEvent } from "../../device/core/agent";
import { isHalt, type FlashPartition, type PartitionName, type Ports, type Sha256Hasher, type Socket } from "../../device/ports";
import type { AgentInstance, FirmwareCode, XsBoot, XsRunner } from "../fleet/library";
import { decodeMessage, encodeMessage, type Delivery, type DeliveryResult, type PortCall, type PortReply } from "./wire";
import { WorkerChannel, WorkerExited } from "./worker-channel";

/**
 * Computrons one delivery (a timer, a socket event, the start) may spend before the virtual task
 * watchdog resets the device. An ed25519 verify costs about 11 M (noble) to 39 M (tweetnacl);
 * 400 M is about 1.5 s of x86 CPU, far longer on an ESP32: only a task that never yields gets there.
 */
export const XS_WATCHDOG_COMPUTRONS = 400_000_000;
/** How often (computrons) xsnap-worker compares the meter with the limit: 1 (its default) costs a callback per step. */
const METER_INTERVAL = 100_000;

/** The device's code never returned to its event loop in time: a task watchdog reset. */
export class WatchdogReset extends Error {
  readonly watchdog = true;
  constructor(message: string) {
    super(message);
    this.name = "WatchdogReset";
  }
}

/** XS aborted the device (stack overflow, memory full): on a board, a panic and a reset. */
export class XsAbort extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XsAbort";
  }
}

export interface XsRunnerOptions {
  /** The xsnap-worker binary (ESP32 stack): scripts/build-xsnap.mjs, { stackSlots: 1536, worker: true }. */
  bin: string;
  /** The bundled device runtime (host-sim/xs/device-runtime.ts built for XS). */
  runtime: string;
  meteringLimit?: number;
}

export interface XsCost {
  boots: number;
  deliveries: number;
  portCalls: number;
  computrons: number;
}

/** Starts XS boots for a fleet; image files are written once per image and shared. */
export class NodeXsRunner implements XsRunner {
  readonly cost: XsCost = { boots: 0, deliveries: 0, portCalls: 0, computrons: 0 };
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-xs-images-"));
  private readonly images = new Map<string, string>();
  private readonly live = new Set<XsDeviceBoot>();

  constructor(private readonly o: XsRunnerOptions) {}

  boot(code: FirmwareCode): XsBoot {
    if (code.payload === undefined) throw new Error(`image ${code.version} has no payload to run in XS`);
    const b = new XsDeviceBoot(this, this.imageFile(code.payload));
    this.live.add(b);
    return b;
  }

  /** Kills every worker still running and removes the image files. */
  close(): void {
    for (const b of this.live) b.dispose();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** @internal */
  forget(b: XsDeviceBoot): void {
    this.live.delete(b);
  }

  /** @internal */
  channel(): WorkerChannel {
    // -i: the meter is checked against the limit every METER_INTERVAL computrons, not after each one.
    const args = ["-i", String(METER_INTERVAL), "-l", String(this.o.meteringLimit ?? XS_WATCHDOG_COMPUTRONS)];
    const ch = new WorkerChannel(this.o.bin, args);
    const r = ch.command(`s${this.o.runtime}`, undefined, () => {
      throw new Error("the device runtime called the host before it was loaded");
    });
    if (r.kind !== ".") {
      ch.close();
      throw new Error(`xsnap-worker could not run the device runtime ${this.o.runtime}`);
    }
    return ch;
  }

  private imageFile(payload: Uint8Array): string {
    const hash = createHash("sha256").update(payload).digest("hex");
    let file = this.images.get(hash);
    if (file === undefined) {
      file = path.join(this.dir, `image-${hash.slice(0, 16)}.mjs`);
      fs.writeFileSync(file, payload);
      this.images.set(hash, file);
    }
    return file;
  }
}

/** One boot of one device inside XS. */
class XsDeviceBoot implements XsBoot {
  readonly crash: string | undefined;
  readonly hung: boolean;
  private ch: WorkerChannel | undefined;
  private ports: Ports | undefined;
  private observe: (e: AgentEvent) => void = () => {};
  private readonly parts = new Map<string, FlashPartition>();
  private readonly sockets = new Map<number, Socket>();
  private readonly hashers = new Map<number, Sha256Hasher>();
  private readonly timers = new Map<number, number>();
  private nextId = 1;
  private inCall = false;

  constructor(
    private readonly runner: NodeXsRunner,
    imageFile: string,
  ) {
    this.runner.cost.boots++;
    this.ch = runner.channel();
    let status: DeliveryResult;
    try {
      this.deliver({ k: "load", path: pathToFileURL(imageFile).pathname });
      status = this.deliver({ k: "status" });
    } catch (e) {
      // Evaluating the module aborted XS (stack overflow, memory full), or never yielded (watchdog).
      status = e instanceof WatchdogReset ? { loaded: "pending" } : { loaded: "failed", error: { name: (e as Error).name, message: (e as Error).message } };
    }
    this.crash = status.loaded === "failed" ? `${status.error?.name ?? "Error"}: ${status.error?.message ?? ""}` : undefined;
    // Its module never finished evaluating (a top-level await that never settles, or a loop that never ends).
    this.hung = status.loaded === "pending";
  }

  start(ports: Ports, config: AgentConfig, observe: (e: AgentEvent) => void): AgentInstance {
    this.ports = ports;
    this.observe = observe;
    const b = ports.battery;
    this.deliver({
      k: "start",
      t: ports.clock.now(),
      config,
      battery: { resolution: b.resolution, fullScaleMv: b.fullScaleMv, charger: typeof b.chargerState === "function" },
    });
    // The agent's start happened inside XS.
    return { start() {}, stop: () => void this.deliver({ k: "stop", t: ports.clock.now() }) };
  }

  dispose(): void {
    this.ch?.close();
    this.ch = undefined;
    this.runner.forget(this);
  }

  private deliver(d: Delivery): DeliveryResult {
    const ch = this.ch;
    if (ch === undefined) return {};
    if (this.inCall) throw new Error(`XS device: a delivery (${d.k}) arrived during a port call; device callbacks must come on their own turn`);
    this.runner.cost.deliveries++;
    let reply;
    try {
      reply = ch.command("?", encodeMessage(d), (bytes) => this.serve(bytes));
    } catch (e) {
      if (e instanceof WorkerExited) {
        this.dispose();
        if (e.reason === "too much computation") throw new WatchdogReset(`task watchdog: the device did not return to its event loop within ${XS_WATCHDOG_COMPUTRONS} computrons`);
        throw new XsAbort(`XS aborted the device: ${e.message}`);
      }
      throw e;
    }
    this.runner.cost.computrons += reply.compute;
    if (reply.kind === "!") throw new XsAbort(`XS: ${Buffer.from(reply.body).toString("latin1")}`);
    const result = decodeMessage(reply.body) as DeliveryResult;
    if (result.q) this.runQueued(result.q);
    if (result.error) {
      const err = new Error(result.error.message);
      err.name = result.error.name;
      throw err;
    }
    return result;
  }

  /** The device's queued calls (DEFERRED): they return nothing and cannot fail, but may halt. */
  private runQueued(q: PortCall[]): void {
    this.runner.cost.portCalls += q.length;
    this.inCall = true;
    try {
      for (const c of q) this.portCall(c.p, c.a);
    } catch (e) {
      if (isHalt(e)) this.dispose();
      throw e;
    } finally {
      this.inCall = false;
    }
  }

  private serve(bytes: Uint8Array): Uint8Array {
    this.runner.cost.portCalls++;
    const call = decodeMessage(bytes) as PortCall;
    if (call.q) this.runQueued(call.q);
    let reply: PortReply;
    this.inCall = true;
    try {
      const r = this.portCall(call.p, call.a);
      reply = r === undefined ? {} : { r };
    } catch (e) {
      if (isHalt(e)) {
        // Power cut or restart: the board stops where it stands; so does this worker.
        this.dispose();
        throw e;
      }
      const err = e as Error & { code?: string };
      reply = { e: { name: err.name ?? "Error", message: err.message ?? String(e), ...(typeof err.code === "string" ? { code: err.code } : {}) } };
    } finally {
      this.inCall = false;
    }
    return encodeMessage(reply);
  }

  private part(name: string): FlashPartition {
    let p = this.parts.get(name);
    if (p === undefined) {
      p = this.ports!.flash.open(name as PartitionName);
      this.parts.set(name, p);
    }
    return p;
  }

  private portCall(p: string, a: unknown[]): unknown {
    const ports = this.ports!;
    const n = (i: number) => a[i] as number;
    const s = (i: number) => a[i] as string;
    const bytes = (i: number) => a[i] as Uint8Array;
    switch (p) {
      case "clock.setTimeout": {
        // The device names its timers; the host keeps its own handle for each.
        const id = n(0);
        this.timers.set(
          id,
          ports.clock.setTimeout(() => {
            this.timers.delete(id);
            this.deliver({ k: "timer", t: ports.clock.now(), id });
          }, n(1)),
        );
        return undefined;
      }
      case "clock.clearTimeout": {
        const handle = this.timers.get(n(0));
        this.timers.delete(n(0));
        return handle === undefined ? undefined : ports.clock.clearTimeout(handle);
      }
      case "wallClock.now":
        return ports.wallClock.now();
      case "random.nextU32":
        return ports.random.nextU32();
      case "random.fill": {
        const out = new Uint8Array(n(0));
        ports.random.fill(out);
        return out;
      }
      case "kv.get":
        return ports.kv.get(s(0));
      case "kv.set":
        return ports.kv.set(s(0), bytes(1));
      case "kv.delete":
        return ports.kv.delete(s(0));
      case "kv.keys":
        return ports.kv.keys();
      case "flash.open": {
        const part = this.part(s(0));
        return { size: part.size, blockSize: part.blockSize };
      }
      case "flash.read":
        return this.part(s(0)).read(n(1), n(2));
      case "flash.write":
        return this.part(s(0)).write(n(1), bytes(2));
      case "flash.eraseBlock":
        return this.part(s(0)).eraseBlock(n(1));
      case "network.connect": {
        const id = this.nextId++;
        const clock = ports.clock;
        const socket = ports.network.connect(a[0] as Parameters<Ports["network"]["connect"]>[0], {
          onConnect: () => this.deliver({ k: "connect", t: clock.now(), s: id }),
          onData: (b) => this.deliver({ k: "data", t: clock.now(), s: id, b }),
          onClose: (reason) => {
            this.sockets.delete(id);
            this.deliver({ k: "close", t: clock.now(), s: id, reason });
          },
        });
        this.sockets.set(id, socket);
        return id;
      }
      case "socket.write":
        return this.sockets.get(n(0))?.write(bytes(1)) ?? 0;
      case "socket.close":
        return this.sockets.get(n(0))?.close();
      case "sha256.create": {
        const id = this.nextId++;
        this.hashers.set(id, ports.sha256.create());
        return id;
      }
      case "sha256.update":
        return this.hashers.get(n(0))!.update(bytes(1));
      case "sha256.digest": {
        const d = this.hashers.get(n(0))!.digest();
        this.hashers.delete(n(0));
        return d;
      }
      case "battery.read":
        return ports.battery.read();
      case "battery.chargerState":
        return ports.battery.chargerState?.();
      case "sensors.sample":
        return ports.sensors.sample();
      case "system.restart":
        return ports.system.restart();
      case "system.resetReason":
        return ports.system.resetReason();
      case "boot.runningSlot":
        return ports.boot.runningSlot();
      case "boot.runningState":
        return ports.boot.runningState();
      case "boot.rollbackAvailable":
        return ports.boot.rollbackAvailable();
      case "boot.setPending":
        return ports.boot.setPending(n(0) as 0 | 1);
      case "boot.markValid":
        return ports.boot.markValid();
      case "boot.markInvalidAndRollback":
        return ports.boot.markInvalidAndRollback();
      case "boot.slotState":
        return ports.boot.slotState(n(0) as 0 | 1);
      case "boot.recordSeq":
        return ports.boot.recordSeq();
      case "log":
        return ports.log(s(0) as Parameters<Ports["log"]>[0], s(1));
      case "event":
        return this.observe(a[0] as AgentEvent);
      default:
        throw new Error(`XS device: unknown port call ${p}`);
    }
  }
}

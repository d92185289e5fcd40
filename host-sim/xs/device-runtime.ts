/**
 * What runs inside XS for one boot of a device (bundled for XS and run as a script by
 * xsnap-worker): the board's runtime around the agent image. It takes xsnap's host functions
 * for itself, then deletes every global xsnap has and a Moddable device does not
 * (MODDABLE_MISSING), so the image's code (cbor-x included) takes the paths it takes on a board.
 * It loads the image's module from the path the host gives, and runs its Agent on ports
 * whose every call crosses to the host over issueCommand, synchronously: the host owns the
 * virtual clock, network, flash, key-value store, battery and boot control, so a device in XS
 * shares them with the fleet's Node devices. Node-free.
 */
import { MODDABLE_MISSING } from "./moddable-globals";
import { decodeMessage, encodeMessage, type DEFERRED, type Delivery, type DeliveryResult, type PortCall, type PortReply } from "./wire";
import type { AgentConfig, AgentEvent } from "../../device/core/agent";
import type { FlashPartition, PartitionName, Ports, SocketHandler, TimerId } from "../../device/ports";
import type { AgentConstructor, AgentInstance } from "../fleet/library";


type Global = Record<string, unknown>;
const g = globalThis as unknown as Global;
const issueCommand = g.issueCommand as (ab: ArrayBuffer) => ArrayBuffer;
for (const name of MODDABLE_MISSING) delete g[name];

function toBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.byteLength === bytes.length ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
}

function portError(e: NonNullable<PortReply["e"]>): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}

let queue: PortCall[] = [];

/** A call that returns nothing and cannot fail: it goes with the next call, or the delivery's answer. */
function defer(p: (typeof DEFERRED)[number], ...a: unknown[]): void {
  queue.push({ p, a });
}

function takeQueue(): PortCall[] | undefined {
  if (queue.length === 0) return undefined;
  const q = queue;
  queue = [];
  return q;
}

/** One synchronous port call to the host (the queued calls go first). */
function call(p: string, ...a: unknown[]): unknown {
  const msg: PortCall = { p, a, q: takeQueue() };
  const reply = decodeMessage(new Uint8Array(issueCommand(toBuffer(encodeMessage(msg))))) as PortReply;
  if (reply.e) throw portError(reply.e);
  return reply.r;
}

// ---------------------------------------------------------------- this boot's state
let now = 0;
let image: Record<string, unknown> | undefined;
let loaded: DeliveryResult["loaded"] = "pending";
let loadError: DeliveryResult["error"];
let agent: AgentInstance | undefined;
let nextTimer = 1;
const timers = new Map<number, () => void>();
const sockets = new Map<number, SocketHandler>();

function makePorts(battery: { resolution: number; fullScaleMv: number; charger: boolean }): Ports {
  const partition = (name: PartitionName, size: number, blockSize: number): FlashPartition => ({
    name,
    size,
    blockSize,
    read: (offset, length) => call("flash.read", name, offset, length) as Uint8Array,
    write: (offset, data) => void call("flash.write", name, offset, data),
    eraseBlock: (index) => void call("flash.eraseBlock", name, index),
  });
  const ports: Ports = {
    clock: {
      now: () => now,
      setTimeout(fn: () => void, ms: number): TimerId {
        const id = nextTimer++;
        timers.set(id, fn);
        defer("clock.setTimeout", id, ms);
        return id;
      },
      clearTimeout(id: TimerId) {
        if (timers.delete(id)) defer("clock.clearTimeout", id);
      },
    },
    wallClock: { now: () => call("wallClock.now") as number | undefined },
    random: {
      nextU32: () => call("random.nextU32") as number,
      fill: (bytes) => bytes.set(call("random.fill", bytes.length) as Uint8Array),
    },
    kv: {
      get: (key) => call("kv.get", key) as Uint8Array | undefined,
      set: (key, value) => void call("kv.set", key, value),
      delete: (key) => void call("kv.delete", key),
      keys: () => call("kv.keys") as string[],
    },
    flash: {
      open(name) {
        const p = call("flash.open", name) as { size: number; blockSize: number };
        return partition(name, p.size, p.blockSize);
      },
    },
    network: {
      connect(options, handler) {
        const s = call("network.connect", options) as number;
        sockets.set(s, handler);
        return {
          write: (bytes) => call("socket.write", s, bytes) as number,
          close: () => defer("socket.close", s),
        };
      },
    },
    sha256: {
      create() {
        const h = call("sha256.create") as number;
        return { update: (bytes) => defer("sha256.update", h, bytes.slice()), digest: () => call("sha256.digest", h) as Uint8Array };
      },
    },
    battery: {
      resolution: battery.resolution,
      fullScaleMv: battery.fullScaleMv,
      read: () => call("battery.read") as number,
      ...(battery.charger ? { chargerState: () => call("battery.chargerState") as ReturnType<NonNullable<Ports["battery"]["chargerState"]>> } : {}),
    },
    sensors: { sample: () => call("sensors.sample") as ReturnType<Ports["sensors"]["sample"]> },
    system: { restart: () => void call("system.restart"), resetReason: () => call("system.resetReason") as ReturnType<Ports["system"]["resetReason"]> },
    boot: {
      runningSlot: () => call("boot.runningSlot") as 0 | 1,
      runningState: () => call("boot.runningState") as ReturnType<Ports["boot"]["runningState"]>,
      rollbackAvailable: () => call("boot.rollbackAvailable") as boolean,
      setPending: (slot) => void call("boot.setPending", slot),
      markValid: () => void call("boot.markValid"),
      markInvalidAndRollback: () => void call("boot.markInvalidAndRollback"),
      slotState: (slot) => call("boot.slotState", slot) as ReturnType<Ports["boot"]["slotState"]>,
      recordSeq: () => call("boot.recordSeq") as number,
    },
    log: (level, message) => defer("log", level, message),
  };
  return ports;
}

function deliver(d: Delivery): DeliveryResult {
  if ("t" in d) now = d.t;
  switch (d.k) {
    case "load": {
      // Not `import(...)` at the start of a statement: XS 13.3 parses that as an import declaration.
      const loading = import(d.path);
      loading.then(
        (ns: Record<string, unknown>) => {
          image = ns;
          loaded = "ok";
        },
        (e: unknown) => {
          loaded = "failed";
          loadError = describe(e);
        },
      );
      return {};
    }
    case "status":
      return { loaded, error: loadError };
    case "start": {
      const Agent = image?.Agent as AgentConstructor | undefined;
      if (typeof Agent !== "function") throw new Error("the image exports no Agent");
      agent = new Agent(makePorts(d.battery), d.config as AgentConfig, (e: AgentEvent) => defer("event", e));
      agent.start();
      return {};
    }
    case "stop":
      agent?.stop();
      return {};
    case "timer": {
      const fn = timers.get(d.id);
      if (fn) {
        timers.delete(d.id);
        fn();
      }
      return {};
    }
    case "connect":
      sockets.get(d.s)?.onConnect();
      return {};
    case "data":
      sockets.get(d.s)?.onData(d.b);
      return {};
    case "close": {
      const h = sockets.get(d.s);
      sockets.delete(d.s);
      h?.onClose(d.reason);
      return {};
    }
  }
}

function describe(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

/** xsnap-worker calls this for each `?` command from the host. */
function handleCommand(request: ArrayBuffer): ArrayBuffer {
  let result: DeliveryResult;
  try {
    result = deliver(decodeMessage(new Uint8Array(request)) as Delivery);
  } catch (e) {
    // What unwinds out of the device's code: on a board, a panic and a reset.
    result = { error: describe(e) };
  }
  result.q = takeQueue();
  return toBuffer(encodeMessage(result));
}

Object.defineProperty(g, "handleCommand", { value: handleCommand, writable: false, enumerable: false, configurable: true });

/**
 * One virtual device in real time on the Node adapters: real sockets to a real broker, flash
 * and key-value state in a directory (or in memory), the simulated battery and sensors on the
 * real clock. `tether device` and `npm start` run this.
 *
 * It boots like a board: the reference bootloader picks a slot, and the agent code that runs
 * is the code in that slot (an ES module build of device/core, evaluated from flash). A fresh
 * device is factory-flashed with this build's agent. An OTA update therefore really changes
 * the code, and a rollback really brings the old code back.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isHalt, type BatteryAdc, type KeyValueStore, type Log, type Network, type Ports, type ResetReason, type Socket } from "../device/ports";
import type { Agent, AgentConfig, AgentEvent } from "../device/core/agent";
import { FIRMWARE_VERSION } from "../device/core/version";
import { DEFAULT_HARDWARE_ID } from "../device/core/agent";
import { versionNumber } from "../device/core/ota/version";
import { NodeClock } from "../device/platform/node/clock";
import { FileKv } from "../device/platform/node/kv";
import { checkStateWritable, lockStateDir, type StateLock } from "../device/platform/node/state-lock";
import { nodeNetwork } from "../device/platform/node/network";
import { nodeRandom } from "../device/platform/node/random";
import { nodeSha256 } from "../device/platform/node/sha256";
import { nodeWallClock } from "../device/platform/node/wall-clock";
import { wrapImage } from "../bootloader-spec/reference/image";
import { buildAgentPayload, loadSlotModule } from "../tools/ota/app-image";
import { SimBattery, type SimBatteryModel } from "./battery/sim-battery";
import { poweredNetwork, poweredSensors } from "./battery/power";
import { SimSensors } from "./sensors/sim-sensors";
import { bootModel, type BootModelName } from "./boot/boot-models";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "./layout";
import { openFileFlash } from "./file-flash";
import { MemoryKv } from "./virtual/kv";
import { SimFlash } from "./virtual/flash";
import { VirtualSystem } from "./virtual/system";

/** A crashing image restarts after this pause, so a boot loop is visible, not a busy loop. */
const CRASH_RESTART_MS = 1000;
/**
 * The task watchdog: an image that has not started its agent this long after boot is hung (a
 * top-level await that never settles) and is reset, as a board's watchdog would; the bootloader
 * then counts a failed trial boot. Real time on a shared host, so longer than a board's 5 s.
 */
export const NODE_TASK_WATCHDOG_MS = 30_000;

export interface NodeDeviceOptions extends Omit<AgentConfig, "brokers"> {
  brokers: string[];
  /** Directory for flash and key-value state; in memory when absent. */
  stateDir?: string;
  /** The simulated cell behind the battery ADC. */
  batteryModel?: Partial<SimBatteryModel>;
  /** A real battery instead of the simulated cell (e.g. SysfsBattery on a laptop). */
  batteryAdc?: BatteryAdc;
  log: Log;
  onEvent: (e: AgentEvent) => void;
  /** Boot and bootloader messages (factory flash, slot chosen, crash, watchdog reset, brick). */
  onBoot?: (message: string) => void;
  /** The task watchdog's timeout (default NODE_TASK_WATCHDOG_MS). */
  watchdogMs?: number;
  /** The bootloader and otadata semantics: the reference bootloader (default) or ESP-IDF's. */
  bootModel?: BootModelName;
  /** The network under the device (default: Node sockets); tests pass a LinkCutter to drop the link. */
  network?: Network;
}

export interface RunningDevice {
  readonly agent: Agent | undefined;
  stop(): void;
}

type AgentModule = { Agent: new (ports: Ports, config: AgentConfig, observe: (e: AgentEvent) => void) => Agent };

export async function startNodeDevice(options: NodeDeviceOptions): Promise<RunningDevice> {
  const { stateDir, log, onEvent, onBoot = () => {}, batteryModel, batteryAdc, bootModel: modelName, network: baseNetwork = nodeNetwork, watchdogMs = NODE_TASK_WATCHDOG_MS, ...agentConfig } = options;
  const model = bootModel(modelName);
  // One process per state directory, and a state that cannot be written fails here, not at every report.
  const lock: StateLock | undefined = stateDir ? lockStateDir(stateDir) : undefined;
  let kv: KeyValueStore;
  let flash: SimFlash;
  try {
    // (kv.json is replaced by a rename, so the directory's lock already proves it writable; flash files are written in place.)
    if (stateDir) checkStateWritable(stateFiles(join(stateDir, "flash")));
    if (stateDir) keepBootModel(stateDir, model.name);
    kv = stateDir ? new FileKv(join(stateDir, "kv.json")) : new MemoryKv(64 * 1024);
    flash = stateDir ? openFileFlash(join(stateDir, "flash"), ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE) : new SimFlash(ESP32_4MB_LAYOUT);
  } catch (err) {
    lock?.release();
    throw err;
  }
  const hardwareId = agentConfig.ota?.hardwareId ?? DEFAULT_HARDWARE_ID;
  const battery = batteryAdc ?? new SimBattery(new NodeClock(), nodeRandom, batteryModel);

  if (!model.boot(flash, nodeSha256).ok) {
    // A blank (or unbootable) device: flash this build's agent into slot 0, as a factory would.
    const payload = await buildAgentPayload(FIRMWARE_VERSION);
    model.provision(flash, wrapImage(payload, versionNumber(FIRMWARE_VERSION), hardwareId, nodeSha256), 0);
    onBoot(`factory image ${FIRMWARE_VERSION} (${payload.length} bytes) flashed into slot 0`);
  }

  let stopped = false;
  let current: Session | undefined;

  const boot = async (resetReason: ResetReason): Promise<void> => {
    if (stopped) return;
    const outcome = model.boot(flash, nodeSha256);
    if (!outcome.ok) {
      onBoot(`bricked: the bootloader finds no bootable image (${outcome.reason})`);
      return;
    }
    onBoot(`bootloader: slot ${outcome.slot}, image ${outcome.header.version}, state ${outcome.state} (${outcome.rule})`);
    const session = (current = new Session((err) => {
      // What a board does on an uncaught exception: panic, reset, boot again.
      onBoot(`crash: ${(err as Error).message ?? String(err)}; restarting`);
      restart("panic", CRASH_RESTART_MS);
    }));
    const restart = (reason: ResetReason, delayMs = 0) => {
      // A restart never returns on a board; here the old boot goes dead now and the new one starts next turn.
      session.kill();
      setTimeout(() => void boot(reason), delayMs);
    };
    const system = new VirtualSystem(resetReason, () => restart("software"));
    let mod: AgentModule;
    try {
      // The watchdog's timer also keeps this process alive while the image hangs: without it
      // Node would exit 13 (unsettled top-level await) and nothing would restart the device.
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<"hung">((resolve) => (watchdog = setTimeout(() => resolve("hung"), watchdogMs)));
      const loaded = await Promise.race([loadSlotModule(flash, outcome.slot), hung]).finally(() => clearTimeout(watchdog));
      if (loaded === "hung") {
        if (stopped || !session.alive) return;
        onBoot(`watchdog: the image in slot ${outcome.slot} did not start within ${watchdogMs} ms (hung); resetting`);
        restart("watchdog");
        return;
      }
      mod = loaded as unknown as AgentModule;
      if (typeof mod.Agent !== "function") throw new Error("the image exports no Agent");
    } catch (err) {
      onBoot(`crash: slot ${outcome.slot} does not start (${(err as Error).message}); restarting`);
      restart("panic", CRASH_RESTART_MS);
      return;
    }
    if (stopped || !session.alive) return; // stopped while the image was loading
    const sensors = new SimSensors(session.clock, nodeRandom);
    const ports: Ports = {
      clock: session.clock,
      wallClock: nodeWallClock,
      random: nodeRandom,
      kv,
      flash,
      network: session.track(battery instanceof SimBattery ? poweredNetwork(baseNetwork, battery) : baseNetwork),
      sha256: nodeSha256,
      battery,
      sensors: battery instanceof SimBattery ? poweredSensors(sensors, battery) : sensors,
      system,
      boot: model.control(flash, nodeSha256, outcome, () => system.restart()),
      log,
    };
    try {
      session.agent = new mod.Agent(ports, { ...agentConfig, brokers: options.brokers }, (e) => session.alive && onEvent(e));
      session.agent.start();
    } catch (err) {
      if (!isHalt(err) && session.alive) {
        onBoot(`crash: the agent threw at start (${(err as Error).message}); restarting`);
        restart("panic", CRASH_RESTART_MS);
      }
    }
  };

  await boot("power-on");
  return {
    get agent() {
      return current?.agent;
    },
    stop() {
      stopped = true;
      const s = current;
      if (!s) return lock?.release();
      s.agent?.stop();
      // Let DISCONNECT reach the socket before the boot's timers and sockets go; the lock goes last.
      setTimeout(() => {
        s.kill();
        lock?.release();
      }, 50).unref();
    },
  };
}

/** The files of a flash directory (none when it does not exist yet). */
function stateFiles(dir: string): string[] {
  try {
    return readdirSync(dir).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** One boot's timers and sockets: a restart kills them all at once, and their callbacks go quiet. */
class Session {
  alive = true;
  agent: Agent | undefined;
  readonly clock: HaltingClock;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly onCrash: (err: unknown) => void) {
    this.clock = new HaltingClock(() => this.alive, onCrash);
  }

  track(network: Network): Network {
    return {
      connect: (options, handler) => {
        const guard = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A) => {
          if (this.alive) runGuarded(() => fn(...a), this.onCrash);
        };
        const socket = network.connect(options, {
          onConnect: guard(() => handler.onConnect()),
          onData: guard((b: Uint8Array) => handler.onData(b)),
          onClose: guard((r: string) => {
            this.sockets.delete(socket);
            handler.onClose(r);
          }),
        });
        this.sockets.add(socket);
        return socket;
      },
    };
  }

  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    this.clock.clearAll();
    for (const s of this.sockets) s.close();
    this.sockets.clear();
  }
}

/** Node timers whose callbacks stop at a halt (a restart thrown out of the agent) and panic-reset on a crash, never killing the process. */
class HaltingClock extends NodeClock {
  constructor(
    private readonly alive: () => boolean,
    private readonly onCrash: (err: unknown) => void,
  ) {
    super();
  }
  override setTimeout(fn: () => void, ms: number): number {
    return super.setTimeout(() => {
      if (this.alive()) runGuarded(fn, this.onCrash);
    }, ms);
  }
}

/** Runs one turn of the device: a halt ends it quietly, any other exception is a crash (panic reset). */
function runGuarded(fn: () => void, onCrash: (err: unknown) => void): void {
  try {
    fn();
  } catch (err) {
    if (!isHalt(err)) onCrash(err);
  }
}

/**
 * The boot records on a state directory's flash are one boot model's (their layouts differ):
 * the first start writes the model's name beside them, and a start with the other model is refused.
 */
function keepBootModel(stateDir: string, name: BootModelName): void {
  const file = join(stateDir, "boot-model");
  if (!existsSync(file)) return writeFileSync(file, `${name}\n`);
  const was = readFileSync(file, "utf8").trim();
  if (was !== name) throw new Error(`state directory ${stateDir} holds boot records of the "${was}" boot model; start it with --boot-model ${was}, or use another --state`);
}

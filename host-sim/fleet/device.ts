/**
 * One virtual device of a fleet. What survives power cycles lives here (flash, key-value
 * store, battery, sensors, wall clock); what a boot creates is thrown away at the next halt.
 * Each power-on runs the reference bootloader on the device's own flash, looks up the code of
 * the image in the chosen slot, and starts that code's Agent on fresh ports for this boot.
 * Power cuts, restarts and crashes halt the boot where it stands (guards.ts). Node-free.
 */
import type { AgentConfig, AgentEvent } from "../../device/core/agent";
import type { Log, Ports, ResetReason, Sha256, SlotIndex } from "../../device/ports";
import { SLOT_PARTITIONS, type BootloaderConfig, type BootOutcome } from "../../bootloader-spec/reference/bootloader";
import { IMAGE_HASH_SIZE, IMAGE_HEADER_SIZE } from "../../bootloader-spec/reference/image";
import { SimBattery } from "../battery/sim-battery";
import { DEFAULT_POWER_COSTS, poweredNetwork, poweredSensors, type PowerCosts } from "../battery/power";
import type { BootModel } from "../boot/boot-models";
import { DEFAULT_SENSOR_PROFILE, SimSensors } from "../sensors/sim-sensors";
import { deviceLinkRateBps, radioSensor } from "./radio";
import { deviceHardware, type FirmwareGroundTruth } from "./firmware-behaviour";
import type { VirtualClock } from "../virtual/clock";
import { PowerCut, type FlashFault, type FlashOp } from "../virtual/flash";
import { MemoryKv } from "../virtual/kv";
import type { LinkOptions, VirtualNetwork, VirtualSocket } from "../virtual/network";
import { SeededRandom } from "../virtual/random";
import { DeviceHalted, VirtualSystem } from "../virtual/system";
import { VirtualWallClock } from "../virtual/wall-clock";
import type { CowFlash, SlotCheckCache } from "./cow-flash";
import { DeviceClock, DeviceNetwork, dropSockets, silenceSockets, type Guarded } from "./guards";
import { toHex, type FirmwareLibrary, type AgentInstance, type XsBoot, type XsRunner } from "./library";
import type { Group } from "./scenario";

/** A crashed boot restarts after this (panic handler + ROM boot). */
export const CRASH_REBOOT_MS = 2_000;
/** A software restart takes this long to come back. */
export const RESTART_MS = 1_000;
/** SNTP answers this long after boot (when it answers at all). */
export const TIME_SYNC_AFTER_MS = 3_000;
/** This many crashes without a boot that ran a minute: the device is in a boot loop (bricked). */
export const MAX_CRASH_LOOP = 12;
/**
 * The task watchdog (ESP-IDF's default CONFIG_ESP_TASK_WDT_TIMEOUT_S is 5 s): an image that has
 * not started its agent this long after boot is hung, and the watchdog resets the chip. The
 * bootloader then sees an unconfirmed trial boot, as after any other reset.
 */
export const TASK_WATCHDOG_MS = 5_000;
/** Calendar time at virtual time 0: 2026-01-01T00:00:00Z. */
export const SIM_EPOCH_UNIX_MS = 1_767_225_600_000;

export type DeviceState = "off" | "running" | "crashed" | "dead" | "bricked";

/** What the fleet gives every device: shared world plus where events go. */
export interface FleetWorld {
  clock: VirtualClock;
  network: VirtualNetwork;
  sha256: Sha256;
  library: FirmwareLibrary;
  brokers: string[];
  /** Slot verifications shared by devices whose slots still hold the same (shared) blocks. */
  slotChecks: SlotCheckCache;
  /** The bootloader and boot records the devices boot with (scenario key `bootModel`). */
  bootModel: BootModel;
  /** OTA trust settings every agent gets. */
  ota: { hardwareId: string; trustedKeys: Uint8Array[] };
  /** Agent events of device `dev`. */
  onAgentEvent(dev: FleetDevice, e: AgentEvent): void;
  /** Lifecycle: boot, power cut, crash, watchdog reset, brick, dead. */
  onLifecycle(dev: FleetDevice, what: Lifecycle, x: number): void;
  /** Devices inside XS: the runner, and which device indices use it. */
  xs?: { runner: XsRunner; runs(index: number): boolean };
  /** Per-version behaviour by hardware revision, and who ran what (firmware-behaviour.ts). */
  firmware?: FirmwareGroundTruth;
}

export type Lifecycle = "boot" | "power-cut" | "crash" | "watchdog" | "brick" | "dead" | "restart";

/** The task watchdog fired: nothing fed it (a hung image, or XS code that never yields). */
export function isWatchdogReset(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { watchdog?: unknown }).watchdog === true;
}

class HungImage extends Error {
  readonly watchdog = true;
  constructor(version: number) {
    super(`image v${version} did not start its agent within ${TASK_WATCHDOG_MS} ms (hung): task watchdog reset`);
    this.name = "WatchdogReset";
  }
}

const silent: Log = () => {};

export class FleetDevice implements Guarded {
  readonly id: string;
  epoch = 0;
  state: DeviceState = "off";
  readonly sockets: VirtualSocket[] = [];
  readonly kv = new MemoryKv();
  readonly battery: SimBattery;
  readonly sensors: SimSensors;
  readonly wall: VirtualWallClock;
  boots = 0;
  crashes = 0;
  watchdogResets = 0;
  /** Runs its images inside XS (host-sim/xs) rather than as modules in this process. */
  readonly inXs: boolean;
  private xsBoot: XsBoot | undefined;
  /** Crashes since the last boot that stayed up (boot-loop detection). */
  private crashRun = 0;
  /** Running image: slot and version (header), after the last successful bootloader run. */
  slot: SlotIndex = 0;
  version = 0;
  private agent: AgentInstance | undefined;
  private wakeTimer = -1;
  /** Links this device has opened, over all its boots: names its next link (nextLink). */
  private connections = 0;
  /** Fault state. */
  radioDownUntil = 0;
  syncFailUntil = 0;
  flashErrorPermille = 0;
  flashErrorUntil = 0;
  /** Armed: the next flash write or erase loses power (off for this long). */
  cutOnFlashWriteMs = -1;
  private readonly faultRandom: SeededRandom;
  /** The boot model's slot verification goes through the fleet's shared cache. */
  private readonly bootConfig: BootloaderConfig;
  /** Bookkeeping the fleet reads. */
  online = false;
  everOnline = false;
  /** When the agent first stopped at a brown-out (its cell too low to go on), if it did: ground truth for "flat". */
  brownoutAt: number | undefined = undefined;
  /** Hardware revision (ground truth; firmware-behaviour.ts). */
  readonly hardware: string;
  /** The radio's link rate (bit/s, radio.ts): the network paces this device's links with it, the power model charges its airtime. */
  readonly linkRateBps: number;
  private readonly powerCosts: PowerCosts;

  constructor(
    readonly index: number,
    readonly seed: number,
    readonly group: Group,
    readonly flash: CowFlash,
    private readonly world: FleetWorld,
  ) {
    this.id = `dev-${String(index).padStart(6, "0")}`;
    const root = new SeededRandom(seed);
    const clock = world.clock;
    this.battery = new SimBattery(clock, root.fork("battery"), group.battery);
    this.sensors = new SimSensors(clock, root.fork("sensors"), { ...DEFAULT_SENSOR_PROFILE, ...group.sensor, ...radioSensor(group.radio, seed) });
    this.wall = new VirtualWallClock(clock, group.driftPpm);
    this.faultRandom = root.fork("flash-faults");
    this.linkRateBps = deviceLinkRateBps(group.radio, seed);
    this.powerCosts = { ...DEFAULT_POWER_COSTS, rateBps: this.linkRateBps };
    this.bootConfig = { verify: (part, sha256) => world.slotChecks.verify(flash, part, sha256) };
    this.inXs = world.xs?.runs(index) === true;
    this.hardware = deviceHardware(group.hardware, seed);
    flash.fault = (op) => this.flashFault(op);
    // NVS lives on the same chip: every key-value write is a power-cut point too. While no cut
    // is armed, flashFault lets every NVS op through, so it only takes its operation number
    // (two per telemetry record: no op record or fault call for them).
    this.kv.beforeWrite = (kind, key, length) => {
      if (this.cutOnFlashWriteMs < 0 && !flash.poweredOff) flash.opCount++;
      else flash.nvsOp(kind, key, length);
    };
  }

  radioDown(): boolean {
    return this.world.clock.now() < this.radioDownUntil;
  }

  get running(): boolean {
    return this.state === "running";
  }

  /** Power on (first time, after a cut, or after a restart) and boot through the bootloader. */
  powerOn(reason: ResetReason): void {
    if (this.state === "dead" || this.state === "bricked") return;
    this.clearWake();
    this.epoch++;
    this.boots++;
    this.flash.powerOn();
    let out: BootOutcome;
    try {
      out = this.world.bootModel.boot(this.flash, this.world.sha256, this.bootConfig);
    } catch (e) {
      this.fault(e);
      return;
    }
    if (!out.ok) {
      this.state = "bricked";
      this.world.onLifecycle(this, "brick", 0);
      return;
    }
    this.slot = out.slot;
    this.version = out.header.version;
    this.state = "running";
    this.world.onLifecycle(this, "boot", out.slot);
    const part = this.flash.open(SLOT_PARTITIONS[out.slot]);
    const hash = toHex(part.read(IMAGE_HEADER_SIZE + out.header.payloadLength, IMAGE_HASH_SIZE));
    const code = this.world.library.code(hash);
    // In XS the image's module is loaded there: what it does there decides, not what it did on Node.
    const xs = code !== undefined && this.inXs ? (this.xsBoot = this.world.xs!.runner.boot(code)) : undefined;
    const hung = xs ? xs.hung : code?.hang === true;
    const crash = code === undefined ? "unknown image" : xs ? xs.crash : (code.crash ?? (code.Agent === undefined && !hung ? "image exports no Agent" : undefined));
    const fwCrash = code === undefined ? undefined : this.world.firmware?.atBoot(this, code.version, this.world.clock.now());
    if (crash !== undefined || fwCrash !== undefined) {
      this.fault(new Error(`image v${out.header.version} in slot ${out.slot} crashed at start-up: ${crash ?? fwCrash}`));
      return;
    }
    const epoch = this.epoch;
    const ports = this.portsFor(epoch, reason, out.slot, out.rollback);
    this.wall.unsync();
    if (this.group.timeSync) ports.clock.setTimeout(() => this.syncTime(), TIME_SYNC_AFTER_MS);
    // A boot that stays up a minute ends a crash loop.
    ports.clock.setTimeout(() => (this.crashRun = 0), 60_000);
    if (hung) {
      // Its agent never starts, so nothing feeds the task watchdog.
      const version = out.header.version;
      ports.clock.setTimeout(() => this.fault(new HungImage(version)), TASK_WATCHDOG_MS);
      return;
    }
    try {
      const config = {
        deviceId: this.id,
        brokers: this.world.brokers,
        firmwareVersion: code!.version,
        keepAliveSec: this.group.keepAliveSec,
        telemetry: { sampleIntervalMs: this.group.sampleIntervalMs, reportIntervalMs: this.group.reportIntervalMs },
        link: { backoff: { powerOnMaxMs: this.group.powerOnDelayMaxMs } },
        ota: { ...this.world.ota, options: { healthTimeoutMs: this.group.otaHealthTimeoutMs } },
      } as AgentConfig;
      const observe = (e: AgentEvent) => {
        if (this.epoch === epoch) this.world.onAgentEvent(this, e);
      };
      if (xs) {
        this.agent = xs.start(ports, config, observe);
        return;
      }
      const agent = new code!.Agent!(ports, config, observe);
      this.agent = agent;
      agent.start();
    } catch (e) {
      this.fault(e);
    }
  }

  /** Power is cut now; it comes back after `offMs` (never, when the battery is dead). */
  powerCut(offMs: number): void {
    if (this.state === "dead" || this.state === "bricked") return;
    this.halt("off");
    this.world.onLifecycle(this, "power-cut", offMs);
    this.wakeAfter(offMs, "power-on");
  }

  /** The battery can no longer hold the regulator up: off for good. */
  die(): void {
    if (this.state === "dead") return;
    this.halt("dead");
    this.world.onLifecycle(this, "dead", 0);
  }

  /** Wi-Fi drops for `forMs`: the connection fails, reconnects time out until it is back. */
  flap(forMs: number): void {
    this.radioDownUntil = Math.max(this.radioDownUntil, this.world.clock.now() + forMs);
    dropSockets(this.sockets, "wifi disconnected");
  }

  /** Whatever unwound out of the device's code. */
  fault(err: unknown): void {
    if (err instanceof DeviceHalted) return; // restart(): already halted and rescheduled
    if (err instanceof PowerCut) {
      const off = this.cutOnFlashWriteMs >= 0 ? this.cutOnFlashWriteMs : 1000;
      this.cutOnFlashWriteMs = -1;
      this.halt("off");
      this.world.onLifecycle(this, "power-cut", off);
      this.wakeAfter(off, "power-on");
      return;
    }
    // A crash (uncaught exception, bad image) or a watchdog reset (hung image): the chip resets;
    // the bootloader counts trial boots.
    const watchdog = isWatchdogReset(err);
    this.crashes++;
    this.crashRun++;
    if (watchdog) this.watchdogResets++;
    this.halt("crashed");
    this.world.onLifecycle(this, watchdog ? "watchdog" : "crash", this.crashRun);
    if (this.crashRun >= MAX_CRASH_LOOP) {
      this.state = "bricked";
      this.world.onLifecycle(this, "brick", 1);
      return;
    }
    this.wakeAfter(CRASH_REBOOT_MS, watchdog ? "watchdog" : "panic");
  }

  /** Ends this boot's XS engine, if it runs in one (the end of a run). */
  releaseXs(): void {
    this.xsBoot?.dispose();
    this.xsBoot = undefined;
  }

  /** Re-syncs the wall clock now (end of a failed-sync window). */
  syncTime(): void {
    if (this.world.clock.now() < this.syncFailUntil) return;
    this.wall.sync(SIM_EPOCH_UNIX_MS + this.world.clock.now());
  }

  // ---------------------------------------------------------------- internals
  private portsFor(epoch: number, reason: ResetReason, slot: SlotIndex, rollback: boolean): Ports {
    const world = this.world;
    const clock = new DeviceClock(world.clock, this, epoch);
    const net = new DeviceNetwork(world.network, clock, this, epoch, () => this.nextLink());
    const system = new VirtualSystem(reason, () => this.restartNow());
    const powered = this.group.powerModel;
    return {
      clock,
      wallClock: this.wall,
      random: new SeededRandom((this.seed ^ Math.imul(this.boots, 0x9e3779b1)) >>> 0),
      kv: this.kv,
      flash: this.flash,
      network: powered ? poweredNetwork(net, this.battery, this.powerCosts) : net,
      sha256: world.sha256,
      battery: this.battery,
      sensors: powered ? poweredSensors(this.sensors, this.battery) : this.sensors,
      system,
      boot: world.bootModel.control(this.flash, world.sha256, { slot, rollback }, () => system.restart(), this.bootConfig),
      log: silent,
    };
  }

  /** This device's next link: named by its index and its own connection count, at its radio's rate. */
  private nextLink(): LinkOptions {
    return { device: this.index, conn: this.connections++, rateBps: this.linkRateBps };
  }

  /** system.restart(): the code stops here; the device boots again shortly. */
  private restartNow(): never {
    this.halt("off");
    this.world.onLifecycle(this, "restart", 0);
    this.wakeAfter(RESTART_MS, "software");
    throw new DeviceHalted("restart");
  }

  private halt(next: DeviceState): void {
    this.epoch++;
    this.state = next;
    this.battery.chipReset(); // its radio and CPU stop with it
    this.agent = undefined;
    this.xsBoot?.dispose();
    this.xsBoot = undefined;
    silenceSockets(this.sockets);
  }

  private wakeAfter(ms: number, reason: ResetReason): void {
    this.clearWake();
    this.wakeTimer = this.world.clock.setTimeout(() => {
      this.wakeTimer = -1;
      this.powerOn(reason);
    }, ms);
  }

  private clearWake(): void {
    if (this.wakeTimer >= 0) this.world.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = -1;
  }

  private flashFault(op: FlashOp): FlashFault {
    if (this.cutOnFlashWriteMs >= 0) {
      // Torn: some of the bytes land.
      return { powerCut: true, tornBytes: this.faultRandom.below(op.length + 1) };
    }
    // I/O errors on partition writes and erases; NVS reports its own failures as KvError, not modelled
    // here. (kv.beforeWrite relies on this: NVS ops fault only through the armed cut above.)
    if (op.partition === "nvs") return undefined;
    if (this.flashErrorPermille > 0 && this.world.clock.now() < this.flashErrorUntil && this.faultRandom.below(1000) < this.flashErrorPermille) {
      return { error: "io" };
    }
    return undefined;
  }
}

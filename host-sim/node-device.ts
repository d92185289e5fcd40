/**
 * One virtual device in real time on the Node adapters: real sockets to a real broker,
 * flash and key-value state in a directory (or in memory), the simulated battery and
 * sensors on the real clock. `tether device` and `npm start` run this.
 */
import { join } from "node:path";
import type { BatteryAdc, KeyValueStore, Log, Ports } from "../device/ports";
import { Agent, type AgentConfig, type AgentEvent } from "../device/core/agent";
import { NodeClock } from "../device/platform/node/clock";
import { openFileFlash } from "../device/platform/node/flash";
import { FileKv } from "../device/platform/node/kv";
import { nodeNetwork } from "../device/platform/node/network";
import { nodeRandom } from "../device/platform/node/random";
import { nodeSha256 } from "../device/platform/node/sha256";
import { nodeWallClock } from "../device/platform/node/wall-clock";
import { SimBattery, type SimBatteryModel } from "./battery/sim-battery";
import { poweredNetwork, poweredSensors } from "./battery/power";
import { SimSensors } from "./sensors/sim-sensors";
import { SimBootControl } from "./boot/boot-control";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "./layout";
import { MemoryKv } from "./virtual/kv";
import { SimFlash } from "./virtual/flash";
import { VirtualSystem } from "./virtual/system";

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
}

export interface RunningDevice {
  readonly agent: Agent;
  stop(): void;
}

export function startNodeDevice(options: NodeDeviceOptions): RunningDevice {
  const { stateDir, log, onEvent, batteryModel, batteryAdc, ...agentConfig } = options;
  const kv: KeyValueStore = stateDir ? new FileKv(join(stateDir, "kv.json")) : new MemoryKv(64 * 1024);
  const flash = stateDir ? openFileFlash(join(stateDir, "flash"), ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE) : new SimFlash(ESP32_4MB_LAYOUT);
  const clock = new NodeClock();
  let agent: Agent;
  let running: RunningDevice;

  const boot = (resetReason: "power-on" | "software") => {
    const system = new VirtualSystem(resetReason, () => {
      // A restart on Node: tear the agent down and boot again on the same state.
      agent.stop();
      clock.clearAll();
      boot("software");
    });
    const battery = batteryAdc ?? new SimBattery(clock, nodeRandom, batteryModel);
    const sensors = new SimSensors(clock, nodeRandom);
    const ports: Ports = {
      clock,
      wallClock: nodeWallClock,
      random: nodeRandom,
      kv,
      flash,
      network: battery instanceof SimBattery ? poweredNetwork(nodeNetwork, battery) : nodeNetwork,
      sha256: nodeSha256,
      battery,
      sensors: battery instanceof SimBattery ? poweredSensors(sensors, battery) : sensors,
      system,
      boot: new SimBootControl(flash, 0, true, () => system.restart()),
      log,
    };
    agent = new Agent(ports, agentConfig, onEvent);
    agent.start();
  };

  boot("power-on");
  running = {
    get agent() {
      return agent;
    },
    stop() {
      agent.stop();
      // Let DISCONNECT reach the socket before the timers go.
      setTimeout(() => clock.clearAll(), 50).unref();
    },
  };
  return running;
}

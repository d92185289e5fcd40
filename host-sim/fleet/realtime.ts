/**
 * `--broker embedded|mqtt://...`: the fleet in real time over TCP (Node adapters) against aedes,
 * Mosquitto, or a cluster (several URLs: every device and the backend fail over among them).
 * Each device still boots its image from its own simulated flash through the scenario's boot
 * model (the reference bootloader unless `bootModel` says "esp-idf") and runs that image's Agent; its clock, sockets and timers are real.
 * A backend client (our own MQTT client, persistent session, QoS 1) counts telemetry per
 * (device, seq). Devices can run in worker threads (realtime-worker.ts); the backend always
 * runs here. Virtual-network faults of a scenario do not apply in real time and are ignored
 * (the caller says so); faults here are real ones (a broker node killed, say).
 */
import { MqttClient, type MqttEvent } from "../../device/core/mqtt/client";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { parseBrokerUrl } from "../../device/core/util/broker-url";
import { SLOT_PARTITIONS } from "../../bootloader-spec/reference/bootloader";
import { IMAGE_HASH_SIZE, IMAGE_HEADER_SIZE } from "../../bootloader-spec/reference/image";
import type { AgentEvent } from "../../device/core/agent";
import type { Log, Ports } from "../../device/ports";
import { NodeClock } from "../../device/platform/node/clock";
import { nodeNetwork } from "../../device/platform/node/network";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { SimBattery } from "../battery/sim-battery";
import { bootModel } from "../boot/boot-models";
import { DEFAULT_SENSOR_PROFILE, SimSensors } from "../sensors/sim-sensors";
import { MemoryKv } from "../virtual/kv";
import { SeededRandom } from "../virtual/random";
import { VirtualSystem } from "../virtual/system";
import { FactoryFlashes, type CowFlash } from "./cow-flash";
import { groupOf } from "./engine";
import { toHex, type AgentInstance, type FirmwareLibrary } from "./library";
import { SeqSet } from "./metrics";
import type { Scenario } from "./scenario";
import { deviceSeed } from "./seeds";

const silent: Log = () => {};
const BACKEND_RETRY_MS = 500;

export interface RealtimeDeviceStats {
  /** Per device index: the sequence numbers its agent made. */
  made: Map<number, number[]>;
  /** Queue-overflow drops, summed over devices (each device reports its running total). */
  queueDropped: number;
  /** Wall ms (Date.now) of every first connect, and every later one. */
  firstConnects: number[];
  reconnects: number[];
  /** Reconnects where the broker still had the device's session (CONNACK session present). */
  sessionPresent: number;
  agentErrors: number;
}

/** Runs devices i ≡ shard.index (mod shard.count) in this thread until `stop()`. */
export class RealtimeDevices {
  private readonly agents: { agent: AgentInstance; clock: NodeClock }[] = [];
  readonly stats: RealtimeDeviceStats = { made: new Map(), queueDropped: 0, firstConnects: [], reconnects: [], sessionPresent: 0, agentErrors: 0 };
  /** Devices online now. */
  online = 0;
  private madeUntil = Number.POSITIVE_INFINITY;

  constructor(
    private readonly o: {
      devices: number;
      seed: number;
      scenario: Scenario;
      brokers: string[];
      library: FirmwareLibrary;
      shard: { index: number; count: number };
      /** Each device's log (default: silent); in this thread only, a function does not cross to a worker. */
      deviceLog?: (deviceId: string) => Log;
    },
  ) {}

  /** Boots every device of this shard (their own power-on delays spread the connects). */
  start(): void {
    const { o } = this;
    const groupFor = groupOf(o.scenario.groups, o.devices);
    const model = bootModel(o.scenario.bootModel);
    const factory = new FactoryFlashes((firmware) => o.library.image(firmware), (flash, image) => model.provision(flash, image, 0));
    for (let i = o.shard.index; i < o.devices; i += o.shard.count) {
      const group = groupFor(i);
      this.boot(i, factory.device(group.firmware), group);
    }
  }

  /** Telemetry made from now on is not counted (it cannot be required to arrive). */
  closeBooks(): void {
    this.madeUntil = Date.now();
  }

  /** Graceful stop of every agent (DISCONNECT), then every timer cleared. */
  stop(): Promise<void> {
    for (const a of this.agents) a.agent.stop();
    return new Promise((resolve) =>
      setTimeout(() => {
        for (const a of this.agents) a.clock.clearAll();
        resolve();
      }, 200),
    );
  }

  private boot(index: number, flash: CowFlash, group: Scenario["groups"][number]): void {
    const id = `dev-${String(index).padStart(6, "0")}`;
    const model = bootModel(this.o.scenario.bootModel);
    const out = model.boot(flash, nodeSha256);
    if (!out.ok) throw new Error(`${id}: no bootable image: ${out.reason}`);
    const part = flash.open(SLOT_PARTITIONS[out.slot]);
    const code = this.o.library.code(toHex(part.read(IMAGE_HEADER_SIZE + out.header.payloadLength, IMAGE_HASH_SIZE)));
    if (!code?.Agent) throw new Error(`${id}: image v${out.header.version} does not run: ${code?.crash ?? "unknown image"}`);
    const seed = deviceSeed(this.o.seed, index);
    const root = new SeededRandom(seed);
    const clock = new NodeClock();
    const system = new VirtualSystem("power-on", () => {});
    const ports: Ports = {
      clock,
      wallClock: { now: () => Date.now() },
      random: root.fork("agent"),
      kv: new MemoryKv(),
      flash,
      network: nodeNetwork,
      sha256: nodeSha256,
      battery: new SimBattery(clock, root.fork("battery"), group.battery),
      sensors: new SimSensors(clock, root.fork("sensors"), { ...DEFAULT_SENSOR_PROFILE, ...group.sensor }),
      system,
      boot: model.control(flash, nodeSha256, { slot: out.slot, rollback: out.rollback }, () => system.restart()),
      log: this.o.deviceLog?.(id) ?? silent,
    };
    const made: number[] = [];
    this.stats.made.set(index, made);
    let everOnline = false;
    let online = false;
    let dropped = 0;
    const log = ports.log;
    const observe = (e: AgentEvent) => {
      if (e.type === "telemetry") {
        if (log !== silent) log("debug", `telemetry #${e.batch.seq}: outbox ${e.batch.link?.queued ?? "?"} queued, ${e.batch.link?.dropped ?? 0} dropped`);
        if (Date.now() < this.madeUntil) made.push(e.batch.seq);
        const d = e.batch.link?.dropped ?? 0;
        if (d > dropped) {
          this.stats.queueDropped += d - dropped;
          dropped = d;
        }
      } else if (e.type === "link") {
        if (log !== silent) log("info", `link ${e.state}: ${e.detail}`);
        if (e.state === "online" && !online) {
          online = true;
          this.online++;
          (everOnline ? this.stats.reconnects : this.stats.firstConnects).push(Date.now());
          if (everOnline && e.detail === "session present") this.stats.sessionPresent++;
          everOnline = true;
        } else if (e.state !== "online" && online) {
          online = false;
          this.online--;
        }
      } else if (e.type === "error") this.stats.agentErrors++;
    };
    const agent = new code.Agent(
      ports,
      {
        deviceId: id,
        brokers: this.o.brokers,
        firmwareVersion: code.version,
        keepAliveSec: group.keepAliveSec,
        telemetry: { sampleIntervalMs: group.sampleIntervalMs, reportIntervalMs: group.reportIntervalMs },
        link: { backoff: { powerOnMaxMs: group.powerOnDelayMaxMs } },
      },
      observe,
    );
    agent.start();
    this.agents.push({ agent, clock });
  }
}

/**
 * The backend: one persistent-session subscriber to tether/+/telemetry, failing over among
 * the broker URLs like the devices do. Counts unique (device, seq) and duplicates.
 */
export class RealtimeBackend {
  readonly seen = new Map<number, SeqSet>();
  delivered = 0;
  duplicates = 0;
  decodeErrors = 0;
  connects = 0;
  private readonly clock = new NodeClock();
  private readonly client: MqttClient;
  private next = 0;
  private stopped = false;
  private ready: (() => void) | undefined;

  constructor(private readonly brokers: string[]) {
    this.client = new MqttClient(
      { clock: this.clock, network: nodeNetwork, log: silent },
      { clientId: `tether-fleet-backend-${process.pid}`, keepAliveSec: 10, cleanSession: false },
      (e) => this.onEvent(e),
    );
  }

  /** Connects and subscribes; resolves once the subscription is in place. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.ready = resolve;
      this.client.subscribe([{ topic: "tether/+/telemetry", qos: 1 }]);
      this.connect();
    });
  }

  stop(): void {
    this.stopped = true;
    this.client.disconnect();
    setTimeout(() => this.clock.clearAll(), 100);
  }

  private connect(): void {
    const t = parseBrokerUrl(this.brokers[this.next % this.brokers.length]);
    this.next++;
    this.client.connect({ host: t.host, port: t.port, tls: t.tls });
  }

  private onEvent(e: MqttEvent): void {
    switch (e.type) {
      case "connected":
        this.connects++;
        return;
      case "subscribed":
        this.ready?.();
        this.ready = undefined;
        return;
      case "closed":
      case "refused":
        if (!this.stopped) this.clock.setTimeout(() => this.connect(), BACKEND_RETRY_MS);
        return;
      case "message": {
        const m = /^tether\/dev-(\d+)\/telemetry$/.exec(e.topic);
        if (!m) return;
        let seq: number;
        try {
          seq = decodeTelemetryBatch(e.payload).seq;
        } catch {
          this.decodeErrors++;
          return;
        }
        const index = Number(m[1]);
        let set = this.seen.get(index);
        if (!set) this.seen.set(index, (set = new SeqSet()));
        if (set.add(seq)) this.delivered++;
        else this.duplicates++;
        return;
      }
      case "acked":
        return;
    }
  }
}

/** Unique seqs made but not seen, over all devices. */
export function missing(made: Map<number, number[]>, seen: Map<number, SeqSet>): { lost: number; published: number; examples: string[] } {
  let lost = 0;
  let published = 0;
  const examples: string[] = [];
  for (const [index, seqs] of made) {
    const set = seen.get(index);
    for (const s of new Set(seqs)) {
      published++;
      if (!set?.has(s)) {
        lost++;
        if (examples.length < 5) examples.push(`dev-${String(index).padStart(6, "0")}#${s}`);
      }
    }
  }
  return { lost, published, examples };
}

/** Largest number of timestamps (ms) falling in one wall-clock second. */
export function peakPerSecond(times: number[]): number {
  const buckets = new Map<number, number>();
  let peak = 0;
  for (const t of times) {
    const k = Math.floor(t / 1000);
    const n = (buckets.get(k) ?? 0) + 1;
    buckets.set(k, n);
    if (n > peak) peak = n;
  }
  return peak;
}

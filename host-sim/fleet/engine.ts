/**
 * `--broker virtual`: a whole fleet under one virtual clock, in one synchronous run.
 * N FleetDevices (real agent code from their flash slots) talk real MQTT bytes over the
 * VirtualNetwork to the VirtualBroker; a virtual backend subscribed inside the broker counts
 * what arrives per (device, seq). Faults come from the scenario (faults.ts). Everything random
 * derives from the run seed, per device and per fault by index, so a device behaves the same
 * whichever shard runs it, and the same seed + scenario give the same trace hash.
 * Node-free: the FirmwareLibrary and Sha256 come from the caller.
 */
import type { AgentEvent } from "../../device/core/agent";
import { OtaResult } from "../../device/core/ota/codes";
import { decodeStatus } from "../../device/core/ota/status";
import { imageBlockTopic, otaTopics } from "../../device/core/ota/topics";
import { BATTERY_ALARM_CODES, decodeTelemetrySeqAndAlarm, LINK_STATE_CODES } from "../../device/core/telemetry/record";
import type { Sha256 } from "../../device/ports";
import { VirtualBroker } from "../broker/virtual-broker";
import { VirtualClock } from "../virtual/clock";
import { VirtualNetwork } from "../virtual/network";
import { FactoryFlashes, SlotCheckCache } from "./cow-flash";
import { FleetDevice, type FleetWorld, type Lifecycle } from "./device";
import { bootModel, type BootModel } from "../boot/boot-models";
import { scheduleFaults, type FaultCounters } from "./faults";
import { scheduleRadioDrops } from "./radio";
import { FirmwareGroundTruth, scheduleChargers } from "./firmware-behaviour";
import type { BadImage, FirmwareLibrary, XsRunner } from "./library";
import { CHECK_EXAMPLES, DeviceBook, fleetChecks, loopingDevices, type CheckFacts, type FleetSummary, type OtaOutcomes } from "./metrics";
import { checkScenarioFits, groupOfScenario, type Scenario } from "./scenario";
import { deviceSeed } from "./seeds";
import { EV, TraceHash } from "./trace";

export const BROKER_URL = "mqtt://broker:1883";
/** How often the fleet checks batteries (death, ground truth for alarms). */
export const BATTERY_CHECK_MS = 5 * 60_000;
const TELEMETRY_PREFIX = "tether/".length;
const TELEMETRY_SUFFIX = "/telemetry".length;

export interface FleetProgress {
  simMs: number;
  endMs: number;
  devices: number;
  online: number;
  published: number;
  delivered: number;
}

export interface VirtualFleetOptions {
  devices: number;
  durationMs: number;
  seed: number;
  scenario: Scenario;
  library: FirmwareLibrary;
  sha256: Sha256;
  /** Run only devices with index % count === index (the others run in other shards). */
  shard?: { index: number; count: number };
  onProgress?: (p: FleetProgress) => void;
  /** Simulated ms between progress reports (and between checks of the wall clock). */
  progressEveryMs?: number;
  /** Devices inside XS: the runner, and how many of the fleet's devices (spread evenly) use it. */
  xs?: { runner: XsRunner; devices: number };
  /** Wall-clock ms (performance.now on Node); only used for the summary's wall time. */
  wallNow?: () => number;
}

/** Whether device `index` of `total` is one of the `n` that run inside XS: spread evenly, whatever the shard. */
export function runsInXs(index: number, n: number, total: number): boolean {
  return Math.floor(((index + 1) * n) / total) > Math.floor((index * n) / total);
}

/** Device index → group (scenario.ts). */
export const groupOf = groupOfScenario;

export class VirtualFleet implements FleetWorld {
  readonly clock = new VirtualClock();
  readonly network = new VirtualNetwork(this.clock);
  readonly broker = new VirtualBroker(this.network);
  readonly trace = new TraceHash();
  readonly devices: FleetDevice[] = [];
  readonly books: DeviceBook[] = [];
  readonly brokers = [BROKER_URL];
  readonly slotChecks = new SlotCheckCache();
  readonly bootModel: BootModel;
  readonly ota: { hardwareId: string; trustedKeys: Uint8Array[] };
  readonly sha256: Sha256;
  readonly library: FirmwareLibrary;
  readonly xs: FleetWorld["xs"];
  readonly firmware: FirmwareGroundTruth;
  private readonly byId = new Map<string, number>();
  /** Telemetry topic → device position, filled as devices publish: the broker hands the same topic string each time. */
  private readonly byTelemetryTopic = new Map<string, number>();
  /** Images whose blocks are already retained on the shared topics (one copy per image). */
  private readonly imagesPublished = new Set<string>();
  private readonly shardIndex: number;
  private readonly shardCount: number;
  readonly faults: FaultCounters = { powerCuts: 0, linkFlaps: 0, brokerOutages: 0, brokerRestarts: 0 };
  // counters
  published = 0;
  delivered = 0;
  duplicates = 0;
  online = 0;
  reconnects = 0;
  peakReconnects = 0;
  private reconnectSec = -1;
  private reconnectsThisSec = 0;
  crashes = 0;
  watchdogResets = 0;
  restarts = 0;
  boots = 0;
  deadBatteries = 0;
  agentErrors = 0;
  decodeErrors = 0;
  /** What the last summary's checks were computed from (shards merge these: metrics.ts mergeCheckFacts). */
  checkFacts: CheckFacts | undefined;

  constructor(readonly o: VirtualFleetOptions) {
    checkScenarioFits(o.scenario, o.devices, o.durationMs);
    this.sha256 = o.sha256;
    this.library = o.library;
    this.firmware = new FirmwareGroundTruth(o.scenario.firmwareBehaviour ?? {});
    this.ota = { hardwareId: o.library.hardwareId, trustedKeys: o.library.trustedKeys };
    if (o.xs && o.xs.devices > 0) {
      const { runner, devices: n } = o.xs;
      this.xs = { runner, runs: (i) => runsInXs(i, n, o.devices) };
    }
    this.broker.start();
    this.broker.subscribeInternal("tether/+/telemetry", (topic, payload) => this.onTelemetry(topic, payload), { qos: 1 });
    this.broker.subscribeInternal("tether/+/ota/status", (topic, payload) => this.onOtaStatus(topic, payload), { qos: 1 });
    const shard = o.shard ?? { index: 0, count: 1 };
    this.shardIndex = shard.index;
    this.shardCount = shard.count;
    const groupFor = groupOf(o.scenario.groups, o.devices);
    const model = (this.bootModel = bootModel(o.scenario.bootModel));
    const factory = new FactoryFlashes((firmware) => o.library.image(firmware), (flash, image) => model.provision(flash, image, 0));
    for (let i = shard.index; i < o.devices; i += shard.count) {
      const group = groupFor(i);
      const dev = new FleetDevice(i, deviceSeed(o.seed, i), group, factory.device(group.firmware), this);
      this.byId.set(dev.id, this.devices.length);
      this.devices.push(dev);
      this.books.push(new DeviceBook());
    }
  }

  /** Powers the fleet on and schedules the scenario; run() calls it, a paced run (the story) too. */
  begin(): void {
    const o = this.o;
    for (const dev of this.devices) dev.powerOn("power-on");
    scheduleFaults(this, o.scenario, o.seed, o.devices, o.durationMs);
    scheduleRadioDrops(this, o.durationMs, () => this.faults.linkFlaps++);
    scheduleChargers(this);
    this.clock.setTimeout(() => this.checkBatteries(), BATTERY_CHECK_MS);
  }

  /** Runs the scenario to the end plus the drain period; returns the summary. */
  run(): FleetSummary {
    const o = this.o;
    const wallNow = o.wallNow ?? (() => 0);
    const wallStart = wallNow();
    const { durationMs } = o;
    const endMs = durationMs + o.scenario.drainMs;
    this.begin();
    const every = o.progressEveryMs ?? 3_600_000;
    for (let t = 0; t < endMs; ) {
      t = Math.min(endMs, t + every);
      this.clock.runUntil(t);
      o.onProgress?.({ simMs: t, endMs, devices: this.devices.length, online: this.online, published: this.published, delivered: this.delivered });
    }
    // The run is over: XS devices' engines stop here (their state stays readable on the host).
    for (const dev of this.devices) dev.releaseXs();
    return this.summary((wallNow() - wallStart) / 1000);
  }

  // ---------------------------------------------------------------- FleetWorld
  onAgentEvent(dev: FleetDevice, e: AgentEvent): void {
    const t = this.clock.now();
    // Devices of this shard are i ≡ shard.index (mod count), in order: the position is arithmetic.
    const book = this.books[(dev.index - this.shardIndex) / this.shardCount];
    switch (e.type) {
      case "link": {
        this.trace.add(t, dev.index, EV.link, LINK_STATE_CODES.indexOf(e.state));
        if (e.state === "online") {
          if (!dev.online) this.online++;
          dev.online = true;
          if (dev.everOnline) this.countReconnect(t);
          dev.everOnline = true;
        } else if (dev.online) {
          this.online--;
          dev.online = false;
        }
        return;
      }
      case "telemetry": {
        // Only what is made before the scenario ends must arrive; the drain period lets it.
        if (t < this.o.durationMs) {
          this.published++;
          book.made.add(e.batch.seq);
        }
        const dropped = e.batch.link?.dropped ?? 0;
        if (dropped > book.queueDropped) book.queueDropped = dropped;
        this.trace.add(t, dev.index, EV.made, e.batch.seq);
        return;
      }
      case "battery":
        if (e.event.type === "alarm") {
          if (e.event.alarm !== "none") book.alarmRaised = true;
          this.trace.add(t, dev.index, EV.alarm, BATTERY_ALARM_CODES.indexOf(e.event.alarm), e.event.pct);
        } else if (e.event.type === "brownout") dev.brownoutAt ??= t;
        return;
      case "error":
        this.agentErrors++;
        return;
      case "boot":
        return;
    }
  }

  onLifecycle(dev: FleetDevice, what: Lifecycle, x: number): void {
    const t = this.clock.now();
    if (what !== "boot" && dev.online) {
      dev.online = false;
      this.online--;
    }
    switch (what) {
      case "boot":
        this.boots++;
        this.trace.add(t, dev.index, EV.boot, x, dev.version);
        return;
      case "power-cut":
        this.faults.powerCuts++;
        this.trace.add(t, dev.index, EV.powerCut, x);
        return;
      case "crash":
        this.crashes++;
        this.trace.add(t, dev.index, EV.crash, x);
        return;
      case "watchdog":
        this.crashes++;
        this.watchdogResets++;
        this.trace.add(t, dev.index, EV.watchdog, x);
        return;
      case "restart":
        this.restarts++;
        this.bookOf(dev).restarts++;
        this.trace.add(t, dev.index, EV.restart);
        return;
      case "brick":
        this.trace.add(t, dev.index, EV.brick, x);
        return;
      case "dead":
        this.deadBatteries++;
        this.trace.add(t, dev.index, EV.dead);
        return;
    }
  }

  // ---------------------------------------------------------------- the backend
  private onTelemetry(topic: string, payload: Uint8Array): void {
    let i = this.byTelemetryTopic.get(topic);
    if (i === undefined) {
      i = this.byId.get(topic.slice(TELEMETRY_PREFIX, topic.length - TELEMETRY_SUFFIX));
      if (i === undefined) return;
      this.byTelemetryTopic.set(topic, i);
    }
    let seq: number;
    let alarm: string | undefined;
    try {
      // Only these two are used: the batch is checked in full but not built (record.ts).
      ({ seq, alarm } = decodeTelemetrySeqAndAlarm(payload));
    } catch {
      this.decodeErrors++;
      return;
    }
    const book = this.books[i];
    if (alarm !== undefined && alarm !== "none") book.alarmSeen = true;
    if (book.seen.add(seq)) {
      this.delivered++;
      this.trace.add(this.clock.now(), this.devices[i].index, EV.delivered, seq);
    } else {
      this.duplicates++;
      this.trace.add(this.clock.now(), this.devices[i].index, EV.duplicate, seq);
    }
  }

  private onOtaStatus(topic: string, payload: Uint8Array): void {
    const i = this.byId.get(topic.split("/")[1]);
    if (i === undefined || payload.length === 0) return;
    try {
      const s = decodeStatus(payload);
      const book = this.books[i];
      if (s.version !== undefined && s.version !== book.offeredVersion) return; // about an older offer
      book.lastOtaState = s.state;
      book.lastOtaResult = s.result;
      if (s.result === OtaResult.RolledBack) book.rolledBackSeen = true;
      this.trace.add(this.clock.now(), this.devices[i].index, EV.otaStatus, s.state, s.result);
    } catch {
      this.decodeErrors++;
    }
  }

  /** Publishes an OTA offer to one device: retained manifest and blocks (docs/protocol/ota.md). */
  offer(dev: FleetDevice, version: string, bad: BadImage | undefined): void {
    const b = this.library.bundle(version, bad);
    const book = this.bookOf(dev);
    book.offeredVersion = b.version;
    book.offeredBad = bad !== undefined;
    book.lastOtaState = -1;
    book.lastOtaResult = -1;
    book.rolledBackSeen = false;
    this.publishOffer(dev, version, bad, undefined);
  }

  /**
   * An offer (also a hostile publisher's): the image's blocks retained once on the shared
   * tether/ota/image/<sha256>/block/<n> (skipped when already there), then the device's manifest
   * retained. Returns the manifest envelope.
   */
  publishOffer(dev: FleetDevice, version: string, bad: BadImage | undefined, signedAs: string | undefined): Uint8Array {
    const b = this.library.bundle(version, bad, signedAs);
    this.bookOf(dev).offers++;
    const hex = b.imageHex;
    if (!this.imagesPublished.has(hex)) {
      this.imagesPublished.add(hex);
      b.blocks.forEach((block, n) => this.broker.publishInternal(imageBlockTopic(hex, n), block, { qos: 1, retain: true }));
    }
    this.broker.publishInternal(otaTopics(dev.id).manifest, b.envelope, { qos: 1, retain: true });
    return b.envelope;
  }

  bookOf(dev: FleetDevice): DeviceBook {
    return this.books[this.byId.get(dev.id)!];
  }

  private countReconnect(t: number): void {
    this.reconnects++;
    const sec = Math.floor(t / 1000);
    if (sec !== this.reconnectSec) {
      this.reconnectSec = sec;
      this.reconnectsThisSec = 0;
    }
    if (++this.reconnectsThisSec > this.peakReconnects) this.peakReconnects = this.reconnectsThisSec;
  }

  private checkBatteries(): void {
    const low = this.o.scenario.lowBatteryPct * 10;
    for (let i = 0; i < this.devices.length; i++) {
      const dev = this.devices[i];
      if (dev.state === "dead") continue;
      if (!this.books[i].crossedLow && dev.battery.chargePermille() <= low) this.books[i].crossedLow = true;
      if (dev.battery.isDead()) dev.die();
    }
    this.clock.setTimeout(() => this.checkBatteries(), BATTERY_CHECK_MS);
  }

  // ---------------------------------------------------------------- the summary
  summary(wallSeconds: number): FleetSummary {
    let lost = 0;
    let delivered = 0;
    let stranded = 0;
    let queueDropped = 0;
    let alerts = 0;
    let alertsSeen = 0;
    let crossed = 0;
    let bricked = 0;
    const alarmMismatch: string[] = [];
    const ota: OtaOutcomes = { offered: 0, updated: 0, rolledBack: 0, deferred: 0, failed: 0, bricked: 0 };
    const badNotRolledBack: string[] = [];
    const lostOn: string[] = [];
    this.devices.forEach((dev, i) => {
      const book = this.books[i];
      const missing = book.made.countMissingFrom(book.seen);
      delivered += book.made.size - missing;
      queueDropped += book.queueDropped;
      if (dev.running) {
        const l = Math.max(0, missing - book.queueDropped);
        lost += l;
        if (l > 0 && lostOn.length < CHECK_EXAMPLES) lostOn.push(`${dev.id} (${l})`);
      } else stranded += missing;
      if (dev.state === "bricked") bricked++;
      if (book.alarmRaised) alerts++;
      if (book.alarmSeen) alertsSeen++;
      if (book.crossedLow) crossed++;
      if (book.alarmRaised !== book.crossedLow && alarmMismatch.length < CHECK_EXAMPLES) alarmMismatch.push(`${dev.id} (alarm ${book.alarmRaised}, crossed ${book.crossedLow})`);
      if (book.offeredVersion > 0) {
        ota.offered++;
        const outcome = otaOutcome(dev, book);
        ota[outcome]++;
        if (book.offeredBad && outcome !== "rolledBack" && badNotRolledBack.length < CHECK_EXAMPLES) badNotRolledBack.push(`${dev.id} (${outcome})`);
      }
    });
    // A device on a critical battery may stay off the air to save it (the agent's battery policy).
    const saving = (d: FleetDevice) => d.battery.chargePermille() <= CRITICAL_BATTERY_PERMILLE;
    const offline = this.devices.filter((d) => d.state !== "dead" && !d.online && !saving(d)).map((d) => d.id);
    const savingOffline = this.devices.filter((d) => d.state !== "dead" && !d.online && saving(d)).length;
    const looping = loopingDevices(this.devices.map((d) => d.id), this.books);
    const withdrawnInstalled = this.devices.filter((d, i) => this.books[i].withdrawnVersions?.has(d.version) === true).map((d) => d.id);
    const mismatches = this.devices.filter((_, i) => this.books[i].alarmRaised !== this.books[i].crossedLow).length;
    const badOffered = this.books.filter((b) => b.offeredBad).length;
    const badRolledBack = this.devices.filter((d, i) => this.books[i].offeredBad && otaOutcome(d, this.books[i]) === "rolledBack").length;
    const examples = (ids: string[]) => ids.slice(0, CHECK_EXAMPLES);
    this.checkFacts = {
      published: this.published,
      delivered,
      lost,
      lostOn,
      bricked,
      badOffered,
      badRolledBack,
      badNotRolledBack,
      online: this.online,
      offline: offline.length,
      offlineIds: examples(offline),
      savingOffline,
      looping: looping.length,
      loopingIds: examples(looping),
      withdrawnInstalled: withdrawnInstalled.length,
      withdrawnIds: examples(withdrawnInstalled),
      alerts,
      crossed,
      mismatches,
      alarmMismatch,
    };
    const checks = fleetChecks(this.checkFacts);
    const simulatedSeconds = this.clock.now() / 1000;
    const devices = this.devices.length;
    return {
      devices,
      seed: this.o.seed,
      broker: "virtual",
      shards: this.o.shard?.count ?? 1,
      simulatedSeconds,
      wallSeconds,
      deviceHoursPerWallSecond: wallSeconds > 0 ? (devices * simulatedSeconds) / 3600 / wallSeconds : 0,
      telemetry: { published: this.published, delivered, lost, duplicates: this.duplicates, queueDropped, stranded },
      reconnects: this.reconnects,
      peakReconnectsPerSecond: this.peakReconnects,
      ota,
      battery: { alerts, alertsSeenByBackend: alertsSeen, crossedThreshold: crossed, dead: this.deadBatteries },
      faults: {
        powerCuts: this.faults.powerCuts,
        crashes: this.crashes,
        watchdogResets: this.watchdogResets,
        restarts: this.restarts,
        linkFlaps: this.faults.linkFlaps,
        brokerOutages: this.faults.brokerOutages,
        brokerRestarts: this.faults.brokerRestarts,
      },
      boots: this.boots,
      onlineAtEnd: this.online,
      traceHash: this.trace.hex(),
      traceEvents: this.trace.events,
      checks,
    };
  }
}

/** The agent's critical battery level (device/core/battery/monitor.ts criticalEnterPct), per mille. */
const CRITICAL_BATTERY_PERMILLE = 100;

function otaOutcome(dev: FleetDevice, book: DeviceBook): keyof Omit<OtaOutcomes, "offered"> {
  if (dev.state === "bricked") return "bricked";
  if (dev.version === book.offeredVersion) return book.offeredBad ? "failed" : "updated";
  // After a rollback the retained offer is seen again and answered "previously rejected" (106).
  if (book.rolledBackSeen) return "rolledBack";
  if (book.lastOtaResult === OtaResult.Deferred) return "deferred";
  return "failed";
}

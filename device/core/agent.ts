/**
 * The agent: composes the core modules over the ports.
 * boot → battery monitor → telemetry reporter (sample, batch, CBOR) → MQTT.
 * Everything observable goes to `observe` as AgentEvents: the CLI prints them decoded and
 * the XS tier turns them into the trace that must match between Node and XS.
 */
import { rethrowHalt, type Ports } from "../ports";
import { BatteryMonitor, batteryOtaPrecondition, type BatteryConfig, type BatteryEvent } from "./battery/monitor";
import { ConfigChannel } from "./config/config-channel";
import { loadTelemetryConfig } from "./config/telemetry-config";
import { stopOnBrownout } from "./telemetry/brownout";
import { Link, type LinkEvent, type LinkOptions } from "./link/link";
import { defaultKeepAliveSec } from "./link/default-keepalive";
import { AgentOta, type AgentOtaConfig } from "./ota/agent-ota";
import type { OtaStatus } from "./ota/status";
import type { QoS } from "./mqtt/client";
import { SequenceCounter } from "./sequence";
import { REPORT_TX_GUARD_MS, TelemetryReporter, type TelemetryConfig } from "./telemetry/reporter";
import type { LinkState, TelemetryBatch } from "./telemetry/record";
import { DEVICE_ID_RULE, isDeviceId, topics } from "./topics";
import { parseBrokerUrl, type BrokerTarget } from "./util/broker-url";
import { FIRMWARE_VERSION } from "./version";
import { IntervalError, checkIntervals } from "./config/intervals";
import { setErrorName } from "./util/error-name";

export const DEFAULT_SAMPLE_INTERVAL_MS = 5_000;
export const DEFAULT_REPORT_INTERVAL_MS = 5_000;
/** Hardware id a manifest must name when the platform does not say (virtual devices). */
export const DEFAULT_HARDWARE_ID = "tether-devkit";

export interface AgentConfig {
  deviceId: string;
  /** mqtt:// or mqtts:// URLs; more than one means fail-over. */
  brokers: string[];
  /** Defaults to the version this build was made with. */
  firmwareVersion?: string;
  telemetry?: Partial<TelemetryConfig>;
  battery?: Partial<BatteryConfig>;
  /**
   * MQTT keep-alive. Unset: max(60 s, 2 × the report interval this boot starts with), at most
   * 1200 s (link/default-keepalive.ts), so regular telemetry keeps the link alive without pings.
   */
  keepAliveSec?: number;
  /** PEM CA certificate for mqtts://. */
  caCert?: string;
  /** Link tuning (backoff, queue size, timeouts); defaults suit a battery device. */
  link?: Omit<LinkOptions, "deviceId" | "brokers" | "keepAliveSec">;
  /**
   * OTA: the hardware id manifests must name and the ed25519 public keys trusted to sign them.
   * Without keys every offer is refused (unknown key), but a trial image is still confirmed or
   * rolled back by its health check.
   */
  ota?: { hardwareId?: string; trustedKeys?: Uint8Array[]; options?: AgentOtaConfig["options"] };
}

export type AgentEvent =
  | { type: "boot"; version: string; slot: 0 | 1; resetReason: string }
  | { type: "battery"; event: BatteryEvent }
  | { type: "link"; state: LinkState; detail: string }
  /** A batch went into the offline queue (number `queued`); the link delivers it in order, at least once. */
  | { type: "telemetry"; topic: string; payload: Uint8Array; batch: TelemetryBatch; queued: number }
  | { type: "ota"; status: OtaStatus }
  | { type: "error"; message: string };

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "AgentConfigError");
  }
}

export class Agent {
  readonly version: string;
  private readonly topics: ReturnType<typeof topics>;
  private readonly brokers: BrokerTarget[];
  private readonly link: Link;
  private readonly battery: BatteryMonitor;
  private readonly ota: AgentOta;
  /** The telemetry intervals this boot starts with (config, or the backend's stored one). */
  private readonly telemetryConfig: TelemetryConfig;
  private reporter: TelemetryReporter | undefined;
  private running = false;
  /** An Agent boots once; a reboot builds a new one (as the board does). */
  private started = false;
  /** Incoming-message handlers by exact topic, for the modules that take backend messages. */
  private readonly handlers = new Map<string, (payload: Uint8Array) => void>();

  constructor(
    private readonly ports: Ports,
    private readonly config: AgentConfig,
    private readonly observe: (e: AgentEvent) => void = () => {},
  ) {
    if (!isDeviceId(config.deviceId)) {
      throw new AgentConfigError(`device id "${config.deviceId}" must be ${DEVICE_ID_RULE}`);
    }
    if (config.brokers.length === 0) throw new AgentConfigError("at least one broker URL is needed");
    this.brokers = config.brokers.map((u) => parseBrokerUrl(u, config.caCert));
    this.version = config.firmwareVersion ?? FIRMWARE_VERSION;
    this.topics = topics(config.deviceId);
    const intervals = [
      ["keepAliveSec", config.keepAliveSec],
      ["sampleIntervalMs", config.telemetry?.sampleIntervalMs],
      ["reportIntervalMs", config.telemetry?.reportIntervalMs],
    ] as const;
    try {
      checkIntervals(Object.fromEntries(intervals));
      // A config the backend set (tether/<id>/config) survives reboots and wins over defaults;
      // the report interval that boots also sets the default keep-alive.
      this.telemetryConfig = loadTelemetryConfig(
        ports.kv,
        {
          sampleIntervalMs: config.telemetry?.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS,
          reportIntervalMs: config.telemetry?.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS,
        },
        ports.log,
      );
      this.link = new Link(
        ports,
        {
          ...config.link,
          deviceId: config.deviceId,
          brokers: this.brokers,
          keepAliveSec: config.keepAliveSec ?? defaultKeepAliveSec(this.telemetryConfig.reportIntervalMs),
        },
        (e) => this.onLink(e),
      );
    } catch (e) {
      if (e instanceof IntervalError) throw new AgentConfigError(e.message);
      throw e;
    }
    this.battery = new BatteryMonitor(ports, config.battery);
    this.battery.onEvent((event) => this.observe({ type: "battery", event }));
    this.ota = new AgentOta(
      ports,
      this.link,
      {
        deviceId: config.deviceId,
        hardwareId: config.ota?.hardwareId ?? DEFAULT_HARDWARE_ID,
        firmwareVersion: this.version,
        trustedKeys: config.ota?.trustedKeys ?? [],
        preconditions: () => this.otaPrecondition(),
        options: config.ota?.options,
      },
      (status) => this.observe({ type: "ota", status }),
    );
    // A download keeps the radio sending, and any other packet the client just wrote (a keep-alive,
    // an ack, an outbox drain) is on the air for tens of ms: battery reads wait for both
    // (monitor.ts deferReadsWhile). Without the second, 2.7 % of faults-small's reads landed on a
    // PINGREQ written at the same instant (bench/lib/battery-read-tx.ts).
    this.battery.deferReadsWhile(() => this.ota.updater.state === "downloading" || this.justWrote());
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.running = true;
    const { ports, config } = this;
    const seq = new SequenceCounter(ports.kv);
    const identity = {
      deviceId: config.deviceId,
      firmware: this.version,
      slot: ports.boot.runningSlot(),
      resetReason: ports.system.resetReason(),
    };
    this.observe({ type: "boot", version: identity.firmware, slot: identity.slot, resetReason: identity.resetReason });
    const reporter = new TelemetryReporter(
      {
        clock: ports.clock,
        wallClock: ports.wallClock,
        sensors: ports.sensors,
        identity,
        nextSeq: () => seq.take(),
        publish: (payload, batch) => this.publishTelemetry(payload, batch),
        battery: this.battery,
        linkStats: () => this.link.stats(),
        memory: ports.memory,
        log: ports.log,
      },
      this.telemetryConfig,
    );
    this.reporter = reporter;
    const configChannel = new ConfigChannel(config.deviceId, this.link, reporter, ports.kv, ports.log, ports.clock);
    this.handle(this.topics.config, (payload) => configChannel.onMessage(this.topics.config, payload));
    // Brown-out: buffered samples go to the persistent outbox (no radio), then stop.
    stopOnBrownout(this.battery, reporter, {
      save: (batches) => {
        for (const b of batches) this.link.outbox.push(this.topics.telemetry, b);
      },
      shutdown: () => this.stop(),
      log: ports.log,
    });
    this.battery.prime();
    if (!this.running) return; // a flat battery at boot: brown-out already stopped us
    // Before the link: settles the last boot's update (confirm trial, note a rollback).
    this.ota.start();
    this.link.start();
    reporter.start();
    // A trial boot passes its health check only once telemetry is acknowledged: report at once
    // (queued until connected) instead of after a reporting interval that may be longer than the check.
    if (ports.boot.runningState() === "pending-verify") reporter.reportNow();
  }

  /** The MQTT client wrote a packet within the last REPORT_TX_GUARD_MS: it may still be on the air. */
  private justWrote(): boolean {
    const at = this.link.client.lastWrittenAt;
    return at !== undefined && this.ports.clock.now() - at < REPORT_TX_GUARD_MS;
  }

  /** Why an OTA must wait now (battery low, unknown, brown-out), or undefined: OtaOptions.preconditions. */
  otaPrecondition(): string | undefined {
    return batteryOtaPrecondition(this.battery)();
  }

  /** Routes messages on `topic` (exact) to `handler`; subscribes at QoS 1. */
  handle(topic: string, handler: (payload: Uint8Array) => void, qos: QoS = 1): void {
    this.handlers.set(topic, handler);
    this.link.subscribe([{ topic, qos }]);
  }

  /** Stops cleanly: sends DISCONNECT, clears every timer. Safe to call twice. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.reporter?.stop();
    this.ota.stop();
    this.link.stop();
  }

  private onLink(e: LinkEvent): void {
    if (this.ota.onLinkEvent(e)) return;
    switch (e.type) {
      case "state":
        this.observe({ type: "link", state: e.state, detail: e.detail });
        return;
      case "message": {
        const handler = this.handlers.get(e.topic);
        if (handler === undefined) {
          this.ports.log("warn", `agent: no handler for message on ${e.topic}`);
          return;
        }
        try {
          handler(e.payload);
        } catch (err) {
          rethrowHalt(err);
          this.observe({ type: "error", message: `handler for ${e.topic} threw: ${(err as Error).message}` });
        }
        return;
      }
      case "delivered":
        // The trial boot's health check: telemetry really reached the broker.
        if (e.topic === this.topics.telemetry) this.ota.onTelemetryAcked();
        return;
      case "acked":
        return;
    }
  }

  private publishTelemetry(payload: Uint8Array, batch: TelemetryBatch): void {
    const queued = this.link.send(this.topics.telemetry, payload);
    this.observe({ type: "telemetry", topic: this.topics.telemetry, payload, batch, queued });
  }
}

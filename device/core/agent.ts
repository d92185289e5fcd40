/**
 * The agent: composes the core modules over the ports.
 * boot → battery monitor → telemetry reporter (sample, batch, CBOR) → MQTT.
 * Everything observable goes to `observe` as AgentEvents: the CLI prints them decoded and
 * the XS tier turns them into the trace that must match between Node and XS.
 */
import type { Ports } from "../ports";
import { BatteryMonitor, type BatteryConfig, type BatteryEvent } from "./battery/monitor";
import { MqttClient, type MqttEvent } from "./mqtt/client";
import { SequenceCounter } from "./sequence";
import { TelemetryReporter, type TelemetryConfig } from "./telemetry/reporter";
import type { LinkState, TelemetryBatch } from "./telemetry/record";
import { DEVICE_ID_PATTERN, topics } from "./topics";
import { parseBrokerUrl, type BrokerTarget } from "./util/broker-url";
import { FIRMWARE_VERSION } from "./version";

export const DEFAULT_SAMPLE_INTERVAL_MS = 5_000;
export const DEFAULT_REPORT_INTERVAL_MS = 5_000;
export const DEFAULT_KEEPALIVE_SEC = 60;
/** First-slice reconnect delay; the link module replaces this with jittered backoff. */
const RECONNECT_DELAY_MS = 5_000;

export interface AgentConfig {
  deviceId: string;
  /** mqtt:// or mqtts:// URLs; more than one means fail-over. */
  brokers: string[];
  /** Defaults to the version this build was made with. */
  firmwareVersion?: string;
  telemetry?: Partial<TelemetryConfig>;
  battery?: Partial<BatteryConfig>;
  keepAliveSec?: number;
  /** PEM CA certificate for mqtts://. */
  caCert?: string;
}

export type AgentEvent =
  | { type: "boot"; version: string; slot: 0 | 1; resetReason: string }
  | { type: "battery"; event: BatteryEvent }
  | { type: "link"; state: LinkState; detail: string }
  | { type: "telemetry"; topic: string; payload: Uint8Array; batch: TelemetryBatch; sent: boolean }
  | { type: "error"; message: string };

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentConfigError";
  }
}

export class Agent {
  readonly version: string;
  private readonly topics: ReturnType<typeof topics>;
  private readonly brokers: BrokerTarget[];
  private readonly mqtt: MqttClient;
  private readonly battery: BatteryMonitor;
  private reporter: TelemetryReporter | undefined;
  private reconnectTimer: number | undefined;
  private brokerIndex = 0;
  private running = false;
  private linkState: LinkState = "offline";
  private reconnects = 0;

  constructor(
    private readonly ports: Ports,
    private readonly config: AgentConfig,
    private readonly observe: (e: AgentEvent) => void = () => {},
  ) {
    if (!DEVICE_ID_PATTERN.test(config.deviceId)) {
      throw new AgentConfigError(`device id "${config.deviceId}" must match ${DEVICE_ID_PATTERN}`);
    }
    if (config.brokers.length === 0) throw new AgentConfigError("at least one broker URL is needed");
    this.brokers = config.brokers.map((u) => parseBrokerUrl(u, config.caCert));
    this.version = config.firmwareVersion ?? FIRMWARE_VERSION;
    this.topics = topics(config.deviceId);
    const first = this.brokers[0];
    this.mqtt = new MqttClient(
      ports,
      {
        clientId: config.deviceId,
        keepAliveSec: config.keepAliveSec ?? DEFAULT_KEEPALIVE_SEC,
        cleanSession: false,
        username: first.username,
        password: first.password,
      },
      (e) => this.onMqtt(e),
    );
    this.battery = new BatteryMonitor(ports, config.battery);
    this.battery.onEvent((event) => this.observe({ type: "battery", event }));
  }

  start(): void {
    if (this.running) return;
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
    this.battery.prime();
    this.reporter = new TelemetryReporter(
      {
        clock: ports.clock,
        wallClock: ports.wallClock,
        sensors: ports.sensors,
        identity,
        nextSeq: () => seq.take(),
        publish: (payload, batch) => this.publishTelemetry(payload, batch),
        battery: this.battery,
        linkStats: () => ({ state: this.linkState, reconnects: this.reconnects }),
        log: ports.log,
      },
      {
        sampleIntervalMs: config.telemetry?.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS,
        reportIntervalMs: config.telemetry?.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS,
      },
    );
    this.connect();
    this.reporter.start();
  }

  /** Stops cleanly: sends DISCONNECT, clears every timer. Safe to call twice. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.reporter?.stop();
    if (this.reconnectTimer !== undefined) this.ports.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.mqtt.disconnect();
  }

  private connect(): void {
    const target = this.brokers[this.brokerIndex % this.brokers.length];
    this.setLink("connecting", target.url);
    this.mqtt.connect(target);
  }

  private onMqtt(e: MqttEvent): void {
    switch (e.type) {
      case "connected":
        this.setLink("online", e.sessionPresent ? "session present" : "new session");
        break;
      case "refused":
        this.setLink("offline", `refused: ${e.reason}`);
        break;
      case "closed":
        if (this.linkState !== "offline") this.setLink("offline", e.reason);
        if (this.running) {
          this.reconnects++;
          this.brokerIndex++;
          this.setLink("backoff", `retry in ${RECONNECT_DELAY_MS} ms`);
          this.reconnectTimer = this.ports.clock.setTimeout(() => {
            this.reconnectTimer = undefined;
            if (this.running) this.connect();
          }, RECONNECT_DELAY_MS);
        }
        break;
      default:
        break;
    }
  }

  private setLink(state: LinkState, detail: string): void {
    this.linkState = state;
    this.observe({ type: "link", state, detail });
  }

  private publishTelemetry(payload: Uint8Array, batch: TelemetryBatch): void {
    const sent = this.mqtt.connected;
    if (sent) this.mqtt.publish(this.topics.telemetry, payload, 0);
    this.observe({ type: "telemetry", topic: this.topics.telemetry, payload, batch, sent });
  }
}

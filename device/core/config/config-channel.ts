/**
 * The MQTT side of telemetry config: subscribe to tether/<id>/config after each connect,
 * answer every message on tether/<id>/config/result (QoS 1), apply accepted changes to
 * the reporter. Transport-agnostic: anything with subscribe/publish (MqttClient fits).
 */
import { rethrowHalt, type Clock, type KeyValueStore, type Log } from "../../ports";
import type { TelemetryConfig } from "../telemetry/reporter";
import { topics } from "../topics";
import { acceptConfigMessage, type ConfigOutcome } from "./telemetry-config";

export interface ConfigTransport {
  subscribe(topics: { topic: string; qos: 0 | 1 }[]): void;
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain?: boolean): number;
}

/**
 * Flash wear bound: at most this many persisted changes within CONFIG_WRITE_WINDOW_MS; past
 * that a change is refused (code 5, "retry in N s") and nothing is written. A backend that
 * keeps changing its mind costs at most 4 NVS writes per 4 minutes, about 1,440 a day.
 */
export const CONFIG_WRITE_BURST = 4;
export const CONFIG_WRITE_WINDOW_MS = 4 * 60_000;

export interface ConfigTarget {
  readonly currentConfig: TelemetryConfig;
  setConfig(config: TelemetryConfig): void;
}


export class ConfigChannel {
  readonly topic: string;
  readonly resultTopic: string;
  /** Every outcome, newest last (bounded), for logs and tests. */
  readonly history: ConfigOutcome[] = [];
  /** When the recent persisted changes were written (at most CONFIG_WRITE_BURST). */
  private readonly writes: number[] = [];

  constructor(
    deviceId: string,
    private readonly transport: ConfigTransport,
    private readonly target: ConfigTarget,
    private readonly kv?: KeyValueStore,
    private readonly log?: Log,
    private readonly clock?: Pick<Clock, "now">,
  ) {
    const t = topics(deviceId);
    this.topic = t.config;
    this.resultTopic = t.configResult;
  }

  /** Call on every successful connect (a clean session forgets subscriptions). */
  onConnected(): void {
    this.transport.subscribe([{ topic: this.topic, qos: 1 }]);
  }

  /** Feed every incoming message; returns true when it was a config message. */
  onMessage(topic: string, payload: Uint8Array): boolean {
    if (topic !== this.topic) return false;
    const now = this.clock?.now() ?? 0;
    const { outcome, config, reply } = acceptConfigMessage(this.target.currentConfig, payload, this.kv, this.retryInMs(now));
    if (outcome.ok && outcome.changed) {
      this.target.setConfig(config);
      if (this.clock) this.writes.push(now);
    }
    this.history.push(outcome);
    if (this.history.length > 16) this.history.shift();
    this.log?.(outcome.ok ? "info" : "warn", outcome.ok ? `config: report ${config.reportIntervalMs} ms, sample ${config.sampleIntervalMs} ms` : `config rejected: ${outcome.error}`);
    try {
      // Not through the outbox: a result is about this boot's config; writing it to flash would
      // cost two NVS writes per request (even a refused one). Lost in a reboot, the backend asks again.
      this.transport.publish(this.resultTopic, reply, 1, false);
    } catch (e) {
      rethrowHalt(e);
      this.log?.("warn", `config: cannot publish result: ${(e as Error).message}`);
    }
    return true;
  }

  /** 0 when a change may be persisted now, else how long until one may. */
  private retryInMs(now: number): number {
    if (!this.clock) return 0;
    while (this.writes.length > 0 && now - this.writes[0] >= CONFIG_WRITE_WINDOW_MS) this.writes.shift();
    return this.writes.length < CONFIG_WRITE_BURST ? 0 : this.writes[0] + CONFIG_WRITE_WINDOW_MS - now;
  }
}

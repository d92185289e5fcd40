/**
 * The MQTT side of telemetry config: subscribe to tether/<id>/config after each connect,
 * answer every message on tether/<id>/config/result (QoS 1), apply accepted changes to
 * the reporter. Transport-agnostic: anything with subscribe/publish (MqttClient fits).
 */
import { rethrowHalt, type KeyValueStore, type Log } from "../../ports";
import type { TelemetryConfig } from "../telemetry/reporter";
import { topics } from "../topics";
import { acceptConfigMessage, type ConfigOutcome } from "./telemetry-config";

export interface ConfigTransport {
  subscribe(topics: { topic: string; qos: 0 | 1 }[]): void;
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain?: boolean): number;
}

export interface ConfigTarget {
  readonly currentConfig: TelemetryConfig;
  setConfig(config: TelemetryConfig): void;
}


export class ConfigChannel {
  readonly topic: string;
  readonly resultTopic: string;
  /** Every outcome, newest last (bounded), for logs and tests. */
  readonly history: ConfigOutcome[] = [];

  constructor(
    deviceId: string,
    private readonly transport: ConfigTransport,
    private readonly target: ConfigTarget,
    private readonly kv?: KeyValueStore,
    private readonly log?: Log,
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
    const { outcome, config, reply } = acceptConfigMessage(this.target.currentConfig, payload, this.kv);
    if (outcome.ok && outcome.changed) this.target.setConfig(config);
    this.history.push(outcome);
    if (this.history.length > 16) this.history.shift();
    this.log?.(outcome.ok ? "info" : "warn", outcome.ok ? `config: report ${config.reportIntervalMs} ms, sample ${config.sampleIntervalMs} ms` : `config rejected: ${outcome.error}`);
    try {
      this.transport.publish(this.resultTopic, reply, 1, false);
    } catch (e) {
      rethrowHalt(e);
      this.log?.("warn", `config: cannot publish result: ${(e as Error).message}`);
    }
    return true;
  }
}

/**
 * MQTT command action: publishes the configured payload to a device topic, `{device}` in the topic
 * replaced by the alert's device id. Typical use: slow a device with a failing battery down
 * through its config topic (docs/protocol/telemetry.md accepts a JSON config request), e.g.
 * topic "tether/{device}/config", payload {"reportIntervalSec": 3600}.
 */
import type { ActionConfig } from "../health/config";
import type { Delivery, Sender } from "./outbox";

/** What the service's MQTT client offers: resolves once the broker acknowledged (QoS 1). */
export type Publish = (topic: string, payload: string, qos: 0 | 1) => Promise<void>;

export function commandTopic(template: string, deviceId: string): string {
  return template.replaceAll("{device}", deviceId);
}

export function mqttCommandSender(publish: Publish): Sender {
  return async (d: Delivery, config: ActionConfig) => {
    if (config.type !== "mqtt") throw new Error("not an mqtt action");
    if (d.alert.deviceId === null) return; // cohort alerts have no device to command
    const payload = typeof config.payload === "string" ? config.payload : JSON.stringify(config.payload);
    await publish(commandTopic(config.topic, d.alert.deviceId), payload, config.qos);
  };
}

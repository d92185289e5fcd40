/** The device topics the service listens to (docs/protocol.md), and how a topic maps back to a device. */
import { isDeviceId, TOPIC_ROOT } from "../../device/core/topics";

/** QoS 1 subscriptions of the service. `status` carries online/offline (the retained Last Will). */
export const SERVICE_FILTERS = [`${TOPIC_ROOT}/+/telemetry`, `${TOPIC_ROOT}/+/status`, `${TOPIC_ROOT}/+/ota/status`];

export type DeviceTopicKind = "telemetry" | "status" | "ota-status";

export function parseDeviceTopic(topic: string): { deviceId: string; kind: DeviceTopicKind } | undefined {
  const parts = topic.split("/");
  if (parts[0] !== TOPIC_ROOT || !isDeviceId(parts[1] ?? "")) return undefined;
  if (parts.length === 3 && parts[2] === "telemetry") return { deviceId: parts[1], kind: "telemetry" };
  if (parts.length === 3 && parts[2] === "status") return { deviceId: parts[1], kind: "status" };
  if (parts.length === 4 && parts[2] === "ota" && parts[3] === "status") return { deviceId: parts[1], kind: "ota-status" };
  return undefined;
}

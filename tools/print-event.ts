/** Prints agent events for a person (text) or a program (one JSON object per line). */
import type { AgentEvent } from "../device/core/agent";
import { formatTelemetry } from "../device/core/telemetry/format";
import { OtaState, resultName } from "../device/core/ota/codes";
import type { OtaStatus } from "../device/core/ota/status";
import { versionString } from "../device/core/ota/version";

export function printAgentEvent(deviceId: string, e: AgentEvent, json: boolean): void {
  if (json) {
    const { payload, ...rest } = e as AgentEvent & { payload?: Uint8Array };
    const out = payload ? { ...rest, payloadBytes: payload.length } : rest;
    process.stdout.write(JSON.stringify({ device: deviceId, at: new Date().toISOString(), ...out }) + "\n");
    return;
  }
  const time = new Date().toISOString().slice(11, 23);
  const line = (text: string) => process.stdout.write(`${time} ${deviceId} ${text}\n`);
  switch (e.type) {
    case "boot":
      line(`boot     firmware ${e.version}, slot ${e.slot}, reset: ${e.resetReason}`);
      break;
    case "battery":
      line(`battery  ${describeBattery(e.event)}`);
      break;
    case "link":
      line(`link     ${e.state} (${e.detail})`);
      break;
    case "telemetry":
      line(`telemetry → ${e.topic}, ${e.payload.length} bytes CBOR (queued as #${e.queued}, sent in order, QoS 1)`);
      process.stdout.write(indent(formatTelemetry(e.batch)) + "\n");
      break;
    case "ota":
      line(`ota      ${describeOta(e.status)}`);
      break;
    case "error":
      line(`error    ${e.message}`);
      break;
  }
}

/** Bootloader and crash messages from the host side of a virtual device. */
export function printBootMessage(deviceId: string, message: string, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify({ device: deviceId, at: new Date().toISOString(), type: "bootloader", message }) + "\n");
  else process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${deviceId} bootldr  ${message}\n`);
}

function describeOta(s: OtaStatus): string {
  const parts = [`state ${stateName(s.state)}`, `result ${s.result} ${resultName(s.result)}`, `running ${versionString(s.running)}`];
  if (s.version !== undefined) parts.push(`offered ${versionString(s.version)}`);
  if (s.total !== undefined) parts.push(`${s.received ?? 0}/${s.total} blocks`);
  if (s.detail) parts.push(s.detail);
  return parts.join(", ");
}

function describeBattery(ev: Extract<AgentEvent, { type: "battery" }>["event"]): string {
  switch (ev.type) {
    case "alarm":
      return `alarm ${ev.alarm} at ${ev.pct}% (${ev.mv} mV)`;
    case "status":
      return `status ${ev.status}`;
    case "brownout":
      return `brown-out at ${ev.mv} mV: saving state and stopping`;
  }
}

const stateName = (code: number) => Object.entries(OtaState).find(([, v]) => v === code)?.[0] ?? `state-${code}`;

const indent = (s: string) =>
  s
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");

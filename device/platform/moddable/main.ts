/**
 * ESP32 entry point: builds the Ports from the Moddable adapters, brings up Wi-Fi and SNTP,
 * and starts the agent once the network is up (or after a grace period, so a device with no
 * Wi-Fi still samples and queues). Moddable calls the default export after preload.
 */
import { config as mcConfig } from "tether-esp";
import { Agent, type AgentEvent } from "../../core/index";
import { espIdfImageCheck } from "../../core/ota/image-check";
import type { Ports } from "../../ports";
import { readDeviceConfig, type DeviceConfig } from "./config";
import { buildPorts } from "./ports";
import { SntpSync } from "./sntp";
import { WifiLink } from "./wifi";

/** Start the agent anyway after this long without Wi-Fi. */
export const WIFI_GRACE_MS = 30_000;

export interface Device {
  config: DeviceConfig;
  ports: Ports;
  agent: Agent;
  wifi: WifiLink;
  sntp: SntpSync;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** One log line per agent event; only fields every event version carries, so it survives API growth. */
function describe(e: AgentEvent): string {
  switch (e.type) {
    case "boot":
      return `boot v${e.version} slot ${e.slot} reset ${e.resetReason}`;
    case "link":
      return `link ${e.state} ${e.detail}`;
    case "telemetry":
      return `telemetry ${e.topic} ${e.payload.length} bytes`;
    case "error":
      return `error ${e.message}`;
    case "ota":
      return `ota state ${e.status.state} result ${e.status.result}${e.status.detail ? ` (${e.status.detail})` : ""}`;
    default:
      return e.type;
  }
}

export function startDevice(raw: Record<string, unknown>, observe?: (e: AgentEvent) => void): Device {
  const config = readDeviceConfig(raw);
  const ports = buildPorts(config);
  const { clock, log } = ports;
  const agent = new Agent(
    ports,
    {
      deviceId: config.deviceId,
      brokers: config.brokers,
      firmwareVersion: config.firmwareVersion,
      telemetry: config.telemetryIntervalMs === undefined ? undefined : { sampleIntervalMs: config.telemetryIntervalMs, reportIntervalMs: config.telemetryIntervalMs },
      ota: {
        hardwareId: config.hardwareId,
        trustedKeys: config.otaPublicKey === undefined ? [] : [hexBytes(config.otaPublicKey)],
        // An ESP32 slot holds an ESP-IDF app image: the bootloader checks its magic and hash.
        options: { imageCheck: espIdfImageCheck },
      },
    },
    (e) => {
      log(e.type === "error" ? "error" : "info", describe(e));
      observe?.(e);
    },
  );
  // Moddable's simulator cannot restart: stop where a board would reboot (system.ts).
  ports.system.onRestartUnavailable = () => agent.stop();
  let started = false;
  const startAgent = () => {
    if (started) return;
    started = true;
    clock.clearTimeout(grace);
    agent.start();
  };
  const grace = clock.setTimeout(startAgent, WIFI_GRACE_MS);
  const sntp = new SntpSync(clock, log, config.sntpHost);
  const wifi = new WifiLink(clock, log, { ssid: config.ssid, password: config.password }, {
    onUp: () => {
      sntp.start();
      startAgent();
    },
    onDown: () => {},
  });
  wifi.start();
  return { config, ports, agent, wifi, sntp };
}

export default function main(): void {
  try {
    startDevice(mcConfig);
  } catch (e) {
    // A config error must be readable on the serial log, not an "XS abort".
    trace(`[error] tether: ${String(e)}\n`);
  }
}

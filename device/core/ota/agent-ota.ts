/**
 * OTA as one piece for the agent composition: the state machine plus its MQTT wiring, built
 * from the Ports. The agent creates it after the link, feeds it link events, and tells it when
 * a telemetry record was acknowledged (the health check of a trial boot). See the wiring notes
 * in docs/protocol/ota.md ("Agent wiring").
 */
import type { Ports } from "../../ports";
import { OtaMqttLink, type OtaMqttClient } from "./mqtt-ota";
import type { OtaStatus } from "./status";
import { OtaUpdater, type OtaOptions } from "./updater";
import { versionNumber } from "./version";

/** The ports OTA uses (the agent passes its whole Ports). */
export type OtaPorts = Pick<Ports, "flash" | "boot" | "sha256" | "kv" | "clock" | "wallClock" | "system" | "log">;

export interface AgentOtaConfig {
  deviceId: string;
  hardwareId: string;
  /** The running firmware's version string (FIRMWARE_VERSION), MAJOR.MINOR.PATCH. */
  firmwareVersion: string;
  /** ed25519 public keys (32 bytes) trusted to sign manifests. */
  trustedKeys: Uint8Array[];
  preconditions?: () => string | undefined;
  options?: Partial<Omit<OtaOptions, "hardwareId" | "currentVersion" | "trustedKeys" | "preconditions">>;
}

/** The link events AgentOta looks at (a subset of LinkEvent). */
export type AgentOtaLinkEvent =
  | { type: "state"; state: string }
  | { type: "message"; topic: string; payload: Uint8Array }
  | { type: string };

export class AgentOta {
  readonly updater: OtaUpdater;
  private readonly mqtt: OtaMqttLink;

  constructor(ports: OtaPorts, client: OtaMqttClient, cfg: AgentOtaConfig, onStatus?: (s: OtaStatus) => void) {
    this.mqtt = new OtaMqttLink(client, cfg.deviceId, onStatus);
    this.updater = new OtaUpdater(
      { flash: ports.flash, boot: ports.boot, sha256: ports.sha256, kv: ports.kv, clock: ports.clock, wallClock: ports.wallClock, system: ports.system, log: ports.log },
      {
        ...cfg.options,
        hardwareId: cfg.hardwareId,
        currentVersion: versionNumber(cfg.firmwareVersion),
        trustedKeys: cfg.trustedKeys,
        preconditions: cfg.preconditions,
      },
      this.mqtt,
    );
  }

  /** Settles the last boot's update (trial, rollback) and subscribes to the offer topic. */
  start(): void {
    this.updater.start();
    this.mqtt.attach(this.updater);
  }

  /** Feed every link event; returns true when it was an OTA message (the agent skips its own routing). */
  onLinkEvent(e: AgentOtaLinkEvent): boolean {
    if (e.type === "state" && "state" in e) {
      this.mqtt.onMqttEvent({ type: e.state === "online" ? "connected" : "closed" });
      return false;
    }
    if (e.type === "message") return this.mqtt.onMqttEvent(e);
    return false;
  }

  /** A telemetry record was acknowledged by the broker (PUBACK): part of the trial health check. */
  onTelemetryAcked(): void {
    this.updater.noteTelemetryAcked();
  }

  stop(): void {
    this.updater.close();
  }
}

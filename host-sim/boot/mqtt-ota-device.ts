/**
 * A virtual device on a real broker, for end-to-end OTA: the reference bootloader on simulated
 * flash, the real MQTT client over the given Network port (Node sockets in the e2e test and the
 * bench), the OTA state machine wired by OtaMqttLink. Portable: every effect is a port.
 * The health check is the real one: connected, and a QoS 1 telemetry message acknowledged.
 * A restart tears the client down and boots again (through the bootloader) on the same flash.
 */
import type { Clock, Log, Network, Sha256, SlotIndex, WallClock } from "../../device/ports";
import { runBootloader, type BootloaderConfig } from "../../bootloader-spec/reference/bootloader";
import { MqttClient } from "../../device/core/mqtt/client";
import { AgentOta } from "../../device/core/ota/agent-ota";
import type { OtaOptions } from "../../device/core/ota/updater";
import { versionString } from "../../device/core/ota/version";
import type { OtaStatus } from "../../device/core/ota/status";
import type { SimFlash } from "../virtual/flash";
import type { MemoryKv } from "../virtual/kv";
import { VirtualSystem } from "../virtual/system";
import { SimBootControl } from "./boot-control";

export interface MqttOtaDeviceConfig {
  deviceId: string;
  host: string;
  port: number;
  flash: SimFlash;
  kv: MemoryKv;
  hardwareId: string;
  trustedKeys: Uint8Array[];
  bootloader?: BootloaderConfig;
  log?: Log;
  otaOptions?: Partial<OtaOptions>;
  clock: Clock;
  network: Network;
  sha256: Sha256;
  wallClock: WallClock;
}

export interface DeviceBoot {
  slot: SlotIndex;
  version: number;
}

export class MqttOtaDevice {
  readonly boots: DeviceBoot[] = [];
  readonly statuses: OtaStatus[] = [];
  /** Bytes of block payloads received, over all boots (for the re-download measurement). */
  blockBytes = 0;
  private client: MqttClient | undefined;
  private ota: AgentOta | undefined;
  private stopped = false;

  constructor(private readonly cfg: MqttOtaDeviceConfig) {}

  get running(): DeviceBoot | undefined {
    return this.boots.at(-1);
  }

  boot(): DeviceBoot {
    const { cfg } = this;
    const out = runBootloader(cfg.flash, cfg.sha256, cfg.bootloader);
    if (!out.ok) throw new Error(`device ${cfg.deviceId} cannot boot: ${out.reason}`);
    const b: DeviceBoot = { slot: out.slot, version: out.header.version };
    this.boots.push(b);
    const clock = cfg.clock;
    const log: Log = cfg.log ?? (() => {});
    const system = new VirtualSystem("power-on", () => this.scheduleRestart());
    const boot = new SimBootControl(cfg.flash, out.slot, out.rollback, () => system.restart());
    let telemetryId = -1;
    let ota: AgentOta | undefined;
    const client = (this.client = new MqttClient(
      { clock, network: cfg.network, kv: cfg.kv, log },
      { clientId: cfg.deviceId, keepAliveSec: 30, cleanSession: false },
      (e) => {
        if (e.type === "message" && e.topic.includes("/ota/block/")) this.blockBytes += e.payload.length;
        // What the agent does with its link events (see AgentOta).
        if (e.type === "connected") {
          ota?.onLinkEvent({ type: "state", state: "online" });
          telemetryId = client.publish(`tether/${cfg.deviceId}/telemetry`, new Uint8Array([0xa0]), 1, false, false);
        }
        if (e.type === "message") ota?.onLinkEvent(e);
        if (e.type === "acked" && e.packetId === telemetryId) ota?.onTelemetryAcked();
      },
    ));
    ota = this.ota = new AgentOta(
      { flash: cfg.flash, kv: cfg.kv, sha256: cfg.sha256, clock, system, boot, wallClock: cfg.wallClock, log },
      client,
      { deviceId: cfg.deviceId, hardwareId: cfg.hardwareId, firmwareVersion: versionString(out.header.version), trustedKeys: cfg.trustedKeys, options: cfg.otaOptions },
      (s) => this.statuses.push(s),
    );
    ota.start();
    client.connect({ host: cfg.host, port: cfg.port });
    return b;
  }

  /** Drops the connection abruptly (no DISCONNECT), as a radio would; the client is not reconnected automatically. */
  dropLink(): void {
    this.client?.disconnect();
  }

  reconnect(): void {
    this.client?.connect({ host: this.cfg.host, port: this.cfg.port });
  }

  stop(): void {
    this.stopped = true;
    this.halt();
  }

  private halt(): void {
    this.ota?.stop();
    this.client?.disconnect();
    this.ota = undefined;
    this.client = undefined;
  }

  private scheduleRestart(): void {
    // Unwinding from inside a socket callback is not possible here: halt on the next turn, then boot.
    this.cfg.clock.setTimeout(() => {
      this.halt();
      if (!this.stopped) this.boot();
    }, 0);
  }
}

/**
 * A virtual device reduced to what OTA needs, booted through a boot model (the reference
 * bootloader or ESP-IDF's otadata, host-sim/boot/boot-models.ts) on
 * simulated flash, with a "retained" backend (manifest + blocks) standing in for the broker.
 * Each boot: bootloader → OtaUpdater.start → offer → blocks as wanted → health events per the
 * image's behaviour, until the device is idle, restarts, crashes or loses power. Used by the
 * power-cut and malicious-input suites; deterministic (virtual clock, no randomness of its own).
 */
import type { KeyValueStore, ResetReason, Sha256, SlotIndex } from "../../device/ports";
import type { BootloaderConfig } from "../../bootloader-spec/reference/bootloader";
import { OtaUpdater, type OtaOptions } from "../../device/core/ota/updater";
import type { OtaStatus } from "../../device/core/ota/status";
import { VirtualClock } from "../virtual/clock";
import { PowerCut, type SimFlash } from "../virtual/flash";

import { DeviceHalted, VirtualSystem } from "../virtual/system";
import { bootModel, type BootModelName } from "./boot-models";

/** What an image does when it runs: passes its health check, never gets telemetry acked, or crashes at start. */
export type Behaviour = "good" | "no-health" | "crash";

export interface RigBackend {
  manifest?: Uint8Array;
  blocks: Map<number, Uint8Array>;
}

export interface RigConfig {
  flash: SimFlash;
  kv: KeyValueStore;
  sha256: Sha256;
  bootloader?: BootloaderConfig;
  /** Which bootloader and otadata semantics the device boots with (default "reference"). */
  bootModel?: BootModelName;
  hardwareId: string;
  trustedKeys: Uint8Array[];
  backend: RigBackend;
  behaviour: (version: number) => Behaviour;
  /** Unix ms for the wall clock, or undefined for "not synced". */
  wallMs?: number;
  options?: Partial<OtaOptions>;
  /** Virtual ms a boot may run before it counts as steady. */
  bootBudgetMs?: number;
  /** A stand-in telemetry loop: a tick every this many ms, counted in BootLog.ticks (off when undefined). */
  telemetryEveryMs?: number;
  /** Called after the bootloader, before the app runs: where NVS on flash reloads and recovers (nvs_flash_init). */
  onAppStart?: () => void;
  /** Called right after the bootloader chose a slot, before the app runs (invariant checks). */
  afterBoot?: (slot: SlotIndex) => void;
  /** Called with each block the device asks for; return false to withhold it. */
  deliver?: (index: number) => boolean;
  /** Power dies this many virtual ms into boot number `boot` (0-based over the rig's life); undefined: it does not. */
  powerLossAt?: (boot: number) => number | undefined;
  /** When boot number `boot` gets its broker connection (virtual ms; default 500): a broker outage delays it. */
  linkUpAt?: (boot: number) => number;
}

export interface BootLog {
  end: "steady" | "restart" | "power-cut" | "crash" | "brick";
  slot?: SlotIndex;
  version?: number;
  rule?: string;
  statuses: OtaStatus[];
  wanted: number;
  delivered: number;
  /** Telemetry ticks that ran (see RigConfig.telemetryEveryMs). */
  ticks: number;
  detail?: string;
}

export class OtaRig {
  readonly boots: BootLog[] = [];
  private reason: ResetReason = "power-on";

  constructor(readonly cfg: RigConfig) {}

  /** One power-on to the end of that boot. */
  bootOnce(): BootLog {
    const { flash, sha256 } = this.cfg;
    const log: BootLog = { end: "steady", statuses: [], wanted: 0, delivered: 0, ticks: 0 };
    this.boots.push(log);
    flash.powerOn();
    try {
      const out = bootModel(this.cfg.bootModel).boot(flash, sha256, this.cfg.bootloader);
      if (!out.ok) {
        log.end = "brick";
        log.detail = out.reason;
        return log;
      }
      log.slot = out.slot;
      log.version = out.header.version;
      log.rule = out.rule;
      this.cfg.afterBoot?.(out.slot);
      this.cfg.onAppStart?.();
      const behaviour = this.cfg.behaviour(out.header.version);
      if (behaviour === "crash") {
        log.end = "crash";
        this.reason = "panic";
        return log;
      }
      this.runApp(out.slot, out.rollback, out.header.version, behaviour, log);
      this.reason = "power-on";
    } catch (e) {
      if (e instanceof PowerCut) {
        log.end = "power-cut";
        log.detail = e.message;
        this.reason = "power-on";
      } else if (e instanceof DeviceHalted && e.why === "power-off") {
        log.end = "power-cut";
        log.detail = "power lost while the app ran";
        this.reason = "power-on";
      } else if (e instanceof DeviceHalted) {
        log.end = "restart";
        this.reason = "software";
      } else {
        throw e;
      }
    }
    return log;
  }

  /** Boots until a boot ends steady (or `maxBoots`); returns the last boot. */
  runUntilSteady(maxBoots = 30): BootLog {
    for (let i = 0; i < maxBoots; i++) {
      const b = this.bootOnce();
      if (b.end === "steady" || b.end === "brick") return b;
    }
    throw new Error(`device did not settle within ${maxBoots} boots: ${this.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`);
  }

  private runApp(slot: SlotIndex, rollback: boolean, version: number, behaviour: Behaviour, log: BootLog): void {
    const { flash, kv, sha256, backend } = this.cfg;
    const clock = new VirtualClock();
    const system = new VirtualSystem(this.reason, () => {
      throw new DeviceHalted("restart");
    });
    const boot = bootModel(this.cfg.bootModel).control(flash, sha256, { slot, rollback }, () => system.restart(), this.cfg.bootloader);
    const wallMs = this.cfg.wallMs;
    let ota: OtaUpdater | undefined;
    ota = new OtaUpdater(
      { flash, boot, sha256, kv, clock, system, wallClock: { now: () => (wallMs === undefined ? undefined : wallMs + clock.now()) } },
      { hardwareId: this.cfg.hardwareId, currentVersion: version, trustedKeys: this.cfg.trustedKeys, ...this.cfg.options },
      {
        status: (s) => log.statuses.push(s),
        want: (blocks) => {
          for (const i of blocks) {
            log.wanted++;
            const bytes = backend.blocks.get(i);
            if (bytes === undefined || (this.cfg.deliver && !this.cfg.deliver(i))) continue;
            clock.setTimeout(() => {
              log.delivered++;
              ota!.block(i, bytes);
            }, 1);
          }
        },
        release: () => {},
      },
    );
    ota.start();
    const bootNo = this.boots.length - 1;
    const linkUp = this.cfg.linkUpAt?.(bootNo) ?? 500;
    if (backend.manifest) {
      // The retained offer: at once by default; after the link is up when an outage delays it.
      const m = backend.manifest;
      clock.setTimeout(() => ota!.offer(m), this.cfg.linkUpAt ? linkUp + 10 : 10);
    }
    clock.setTimeout(() => ota!.noteConnected(), linkUp);
    if (behaviour === "good") clock.setTimeout(() => ota!.noteTelemetryAcked(), linkUp + 500);
    const lossAt = this.cfg.powerLossAt?.(bootNo);
    if (lossAt !== undefined) {
      clock.setTimeout(() => {
        throw new DeviceHalted("power-off");
      }, lossAt);
    }
    const budget = this.cfg.bootBudgetMs ?? 3_600_000;
    const every = this.cfg.telemetryEveryMs;
    if (every !== undefined) {
      const tick = () => {
        log.ticks++;
        if (clock.now() + every <= budget) clock.setTimeout(tick, every);
      };
      clock.setTimeout(tick, every);
    }
    clock.runUntilIdle(budget);
    ota.close();
  }
}

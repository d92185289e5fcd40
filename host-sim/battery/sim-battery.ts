/**
 * Battery physics for virtual devices, as a BatteryAdc: a charge store drained by current,
 * terminal voltage = OCV(charge) − I·R_internal, read through a divider and an ADC.
 * Integer arithmetic throughout (charge in µA·ms), so a week of drain is identical on XS
 * and Node. Node-free: it runs inside the XS tier.
 */
import type { BatteryAdc, Clock, Random } from "../../device/ports";

/** Open-circuit voltage of a 1S LiPo at rest: [charge ‰, mV], from full to empty. */
export const LIPO_OCV: readonly (readonly [number, number])[] = [
  [1000, 4190],
  [900, 4100],
  [800, 4020],
  [700, 3950],
  [600, 3890],
  [500, 3840],
  [400, 3810],
  [300, 3780],
  [200, 3750],
  [100, 3710],
  [50, 3650],
  [20, 3520],
  [0, 3300],
];

export interface SimBatteryModel {
  capacityMah: number;
  /** Each device's capacity is nominal × (1 ± U(0, variation‰)). */
  capacityVariationPermille: number;
  /** Starting charge, ‰ of this device's capacity. */
  startPermille: number;
  /**
   * Each device starts at startPermille ± U(0, variation‰) points (clamped to 0..1000): a real
   * fleet's cells are not all at one charge. 0 (the default) draws nothing from the random stream.
   */
  startVariationPermille: number;
  internalMilliohm: number;
  /** Current in each power state (µA). Bursts add on top of sleep. */
  sleepUa: number;
  activeUa: number;
  transmitUa: number;
  /** Charge one connection attempt costs (radio on, association, TLS…), in µA·ms. */
  connectAttemptUaMs: number;
  adcResolution: number;
  /** Battery mV at ADC full scale (a 1:2 divider on a 3.3 V reference → 6600). */
  adcFullScaleMv: number;
  /** ± this many LSB of uniform ADC noise per read. */
  adcNoiseLsb: number;
  /** Below this terminal voltage the regulator drops out and the chip's BOD resets it. */
  hardwareCutoffMv: number;
  ocv: readonly (readonly [number, number])[];
}

export const DEFAULT_SIM_BATTERY: SimBatteryModel = {
  capacityMah: 400,
  capacityVariationPermille: 50,
  startPermille: 1000,
  startVariationPermille: 0,
  internalMilliohm: 250,
  sleepUa: 1_500, // light sleep with Wi-Fi DTIM wake-ups
  activeUa: 80_000, // CPU on, radio idle
  transmitUa: 250_000, // Wi-Fi TX burst
  connectAttemptUaMs: 120_000 * 1_500, // ≈ 120 mA for 1.5 s
  adcResolution: 12,
  adcFullScaleMv: 6600,
  adcNoiseLsb: 1,
  hardwareCutoffMv: 3300,
  ocv: LIPO_OCV,
};

const UA_MS_PER_MAH = 1000 * 3600_000;

/** What draws a burst: one radio and one CPU, each doing one thing at a time. */
export type Load = "radio" | "cpu" | "other";

export class SimBattery implements BatteryAdc {
  readonly resolution: number;
  readonly fullScaleMv: number;
  readonly model: SimBatteryModel;
  /** This device's capacity (µA·ms). */
  readonly capacityUaMs: number;
  private remaining: number;
  private lastT: number;
  /**
   * Bursts not yet ended, oldest first, as parallel arrays with a count: a device adds one at
   * every packet it sends, so no object per burst, and the arrays never shrink.
   */
  private readonly burstEnds: number[] = [];
  private readonly burstUas: number[] = [];
  private readonly burstLoads: Load[] = [];
  private burstCount = 0;
  private chargingUa = 0;
  private drawn = 0;
  /** How much charge went to connection attempts (µA·ms), and how many there were. */
  connectUaMs = 0;
  connectAttempts = 0;
  /** Drain of the running firmware, ‰ of the modelled current (host-sim/fleet/firmware-behaviour.ts). */
  drainPermille = 1000;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    model: Partial<SimBatteryModel> = {},
  ) {
    this.model = { ...DEFAULT_SIM_BATTERY, ...model };
    const m = this.model;
    this.resolution = m.adcResolution;
    this.fullScaleMv = m.adcFullScaleMv;
    const spread = m.capacityVariationPermille;
    const v = spread > 0 ? (random.nextU32() % (2 * spread + 1)) - spread : 0;
    this.capacityUaMs = Math.floor((m.capacityMah * UA_MS_PER_MAH * (1000 + v)) / 1000);
    const sv = m.startVariationPermille;
    const start = sv > 0 ? Math.min(1000, Math.max(0, m.startPermille + (random.nextU32() % (2 * sv + 1)) - sv)) : m.startPermille;
    this.remaining = Math.floor((this.capacityUaMs * start) / 1000);
    this.lastT = clock.now();
  }

  // ------------------------------------------------------------ load
  /**
   * Adds `ua` on top of the sleep current for `ms`. Bursts of different loads add up; a radio
   * or CPU burst while that load is already busy queues behind it (the radio sends one packet
   * at a time), so a flood of packets lasts longer instead of drawing an impossible current.
   */
  burst(ua: number, ms: number, load: Load = "other"): void {
    this.integrate();
    if (ms <= 0 || ua <= 0) return;
    const ends = this.burstEnds;
    const n = this.burstCount;
    if (load !== "other") {
      const uas = this.burstUas;
      const loads = this.burstLoads;
      for (let i = 0; i < n; i++) {
        if (loads[i] === load && uas[i] === ua && ends[i] > this.lastT) {
          ends[i] += ms;
          return;
        }
      }
    }
    if (n === ends.length) {
      ends.push(0);
      this.burstUas.push(0);
      this.burstLoads.push("other");
    }
    ends[n] = this.clock.now() + ms;
    this.burstUas[n] = ua;
    this.burstLoads[n] = load;
    this.burstCount = n + 1;
  }

  active(ms: number): void {
    this.burst(this.model.activeUa - this.model.sleepUa, ms, "cpu");
  }

  transmit(ms: number): void {
    this.burst(this.model.transmitUa - this.model.sleepUa, ms, "radio");
  }

  /**
   * The chip resets (restart, crash, power cut): the radio's queued packets and the CPU's work end
   * now; a load outside the chip ("other": a stuck peripheral, a fault's drain) goes on. Without
   * this a restart straight after a download booted into its leftover TX and primed the new
   * boot's battery readings in the sag.
   */
  chipReset(): void {
    this.integrate();
    this.keepBursts(this.clock.now(), "other");
  }

  /** A connection attempt's lump cost: reconnect policy shows up as lost battery life. */
  connectionAttempt(): void {
    this.integrate();
    this.connectAttempts++;
    this.take(this.model.connectAttemptUaMs);
    this.connectUaMs += this.model.connectAttemptUaMs;
  }

  /** Charger current in µA (0 = unplugged). Charging stops at full. */
  setCharging(ua: number): void {
    this.integrate();
    this.chargingUa = ua;
  }

  // ------------------------------------------------------------ state
  /** Current drawn right now (µA). */
  currentUa(): number {
    this.integrate();
    return this.integratedCurrentUa();
  }

  /** True while a burst of `load` is drawing (e.g. "radio": a packet on the air now). */
  busy(load: Load): boolean {
    this.integrate();
    return this.integratedBusy(load);
  }

  /** Remaining charge in ‰ of this device's capacity. */
  chargePermille(): number {
    this.integrate();
    return Math.floor((this.remaining * 1000) / this.capacityUaMs);
  }

  /** Total charge drawn up to now (µA·ms). */
  get drawnUaMs(): number {
    this.integrate();
    return this.drawn;
  }

  remainingUaMs(): number {
    this.integrate();
    return this.remaining;
  }

  openCircuitMv(): number {
    this.integrate();
    return this.integratedOpenCircuitMv();
  }

  /** Terminal voltage under the present load (charging raises it). */
  terminalMv(): number {
    this.integrate();
    return this.integratedTerminalMv(this.integratedCurrentUa());
  }

  /** True once the terminal voltage under load is below the regulator's cut-off. */
  isDead(): boolean {
    return this.terminalMv() < this.model.hardwareCutoffMv;
  }

  // ------------------------------------------------------------ BatteryAdc
  /**
   * The ADC is read by code running on the CPU, so the cell is never read at the sleep current:
   * the loads add up as the cell sees them — the CPU running (its burst, or the active current
   * when no wrapper charged that wake yet), plus the radio's TX and any outside load (a fault's
   * drain). The ESP32 datasheet's power modes: light sleep < 1 mA, CPU running with the radio
   * idle ("modem sleep") 20–68 mA. The read itself lasts microseconds: no charge drawn.
   * (It used to take max(current, active): a 60 mA outside drain read as 80 mA, not ~140 mA.)
   */
  read(): number {
    const span = 2 ** this.resolution;
    this.integrate();
    const mv = this.integratedTerminalMv(this.readLoadUa());
    let raw = Math.floor((mv * span) / this.fullScaleMv);
    const n = this.model.adcNoiseLsb;
    if (n > 0) raw += (this.random.nextU32() % (2 * n + 1)) - n;
    return raw < 0 ? 0 : raw >= span ? span - 1 : raw;
  }

  chargerState(): "charging" | "full" | "discharging" {
    if (this.chargingUa <= 0) return "discharging";
    this.integrate();
    return this.remaining >= this.capacityUaMs ? "full" : "charging";
  }

  // ------------------------------------------------------------ integrated state
  // The state at the time of the last integrate(): a read integrates once, not once per quantity
  // (it runs at every battery sample of every device).

  private integratedCurrentUa(): number {
    let ua = this.model.sleepUa;
    for (let i = 0; i < this.burstCount; i++) ua += this.burstUas[i];
    return ua;
  }

  private integratedBusy(load: Load): boolean {
    for (let i = 0; i < this.burstCount; i++) if (this.burstLoads[i] === load) return true;
    return false;
  }

  /** The load during a read: everything drawing now, with the CPU running whether charged yet or not. */
  private readLoadUa(): number {
    const ua = this.integratedCurrentUa();
    return this.integratedBusy("cpu") ? ua : ua + this.model.activeUa - this.model.sleepUa;
  }

  private integratedOpenCircuitMv(): number {
    const ocv = this.model.ocv;
    const cap = this.capacityUaMs;
    const remaining = this.remaining;
    for (let i = 1; i < ocv.length; i++) {
      const c1 = Math.floor((ocv[i][0] * cap) / 1000);
      if (remaining >= c1) {
        const c0 = Math.floor((ocv[i - 1][0] * cap) / 1000);
        const v0 = ocv[i - 1][1];
        const v1 = ocv[i][1];
        if (remaining >= c0) return v0;
        return v1 + Math.floor(((remaining - c1) * (v0 - v1)) / (c0 - c1));
      }
    }
    return ocv[ocv.length - 1][1];
  }

  private integratedTerminalMv(loadUa: number): number {
    const net = loadUa - this.chargingUa;
    return this.integratedOpenCircuitMv() - Math.trunc((net * this.model.internalMilliohm) / 1_000_000);
  }

  // ------------------------------------------------------------ integration
  private take(uaMs: number): void {
    this.drawn += uaMs;
    this.remaining -= uaMs;
    if (this.remaining < 0) this.remaining = 0;
  }

  /** Brings the charge up to now, piecewise over the burst end times. */
  private integrate(): void {
    const now = this.clock.now();
    const ends = this.burstEnds;
    const uas = this.burstUas;
    while (this.lastT < now) {
      const n = this.burstCount;
      let until = now;
      for (let i = 0; i < n; i++) if (ends[i] > this.lastT && ends[i] < until) until = ends[i];
      let ua = this.model.sleepUa;
      for (let i = 0; i < n; i++) if (ends[i] > this.lastT) ua += uas[i];
      const dt = until - this.lastT;
      this.take(this.drainPermille === 1000 ? ua * dt : Math.floor((ua * dt) / 1000) * this.drainPermille);
      if (this.chargingUa > 0) this.remaining = Math.min(this.capacityUaMs, this.remaining + this.chargingUa * dt);
      this.lastT = until;
      this.keepBursts(until);
    }
  }

  /**
   * Keeps the bursts still running after `until` (of load `only`, when given), in place and in
   * order: this runs at every packet a device sends.
   */
  private keepBursts(until: number, only?: Load): void {
    const ends = this.burstEnds;
    const uas = this.burstUas;
    const loads = this.burstLoads;
    let kept = 0;
    for (let i = 0; i < this.burstCount; i++) {
      if (ends[i] > until && (only === undefined || loads[i] === only)) {
        ends[kept] = ends[i];
        uas[kept] = uas[i];
        loads[kept] = loads[i];
        kept++;
      }
    }
    this.burstCount = kept;
  }
}

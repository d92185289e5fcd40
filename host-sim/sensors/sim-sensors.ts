/**
 * Simulated sensors for virtual devices: temperature with a daily cycle, humidity that
 * moves against it, Wi-Fi RSSI as a bounded random walk. Deterministic from the seeded
 * Random and the clock; integer arithmetic only (a triangle wave, not Math.sin), so
 * traces match between XS and Node. Node-free: it runs inside the XS tier.
 */
import type { Clock, Random, SensorSample, Sensors } from "../../device/ports";

const DAY_MS = 86_400_000;

export interface SimSensorProfile {
  /** Daily mean temperature, centi-°C, and the half swing of the daily cycle. */
  meanCentiC: number;
  swingCentiC: number;
  /** Mean relative humidity, ‰. */
  meanHumidityPermille: number;
  /** RSSI walk bounds, dBm. */
  rssiMin: number;
  rssiMax: number;
}

export const DEFAULT_SENSOR_PROFILE: SimSensorProfile = {
  meanCentiC: 2100,
  swingCentiC: 400,
  meanHumidityPermille: 480,
  rssiMin: -88,
  rssiMax: -48,
};

export class SimSensors implements Sensors {
  private readonly phaseMs: number;
  private noiseC = 0;
  private rssi: number;
  samples = 0;
  /** Set to make the next sample() throw (a sensor bus fault). */
  failNext = false;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly profile: SimSensorProfile = DEFAULT_SENSOR_PROFILE,
  ) {
    this.phaseMs = random.nextU32() % DAY_MS;
    this.rssi = profile.rssiMin + (random.nextU32() % (profile.rssiMax - profile.rssiMin + 1));
  }

  /** Triangle wave in [-1000, 1000] over a day (peak mid-afternoon for phase 0). */
  private daily(t: number): number {
    const x = (t + this.phaseMs) % DAY_MS; // 0..DAY
    const half = DAY_MS / 2;
    const up = x < half ? x : DAY_MS - x; // 0..half..0
    return Math.floor((up * 2000) / half) - 1000;
  }

  private step(range: number): number {
    return (this.random.nextU32() % (2 * range + 1)) - range;
  }

  sample(): SensorSample {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("sensor bus timeout");
    }
    this.samples++;
    const p = this.profile;
    const d = this.daily(this.clock.now());
    this.noiseC = Math.max(-80, Math.min(80, this.noiseC + this.step(6)));
    const temperatureCentiC = p.meanCentiC + Math.trunc((d * p.swingCentiC) / 1000) + this.noiseC;
    const humidityPermille = Math.max(0, Math.min(1000, p.meanHumidityPermille - Math.trunc((d * 120) / 1000) + this.step(5)));
    this.rssi = Math.max(p.rssiMin, Math.min(p.rssiMax, this.rssi + this.step(2)));
    return { temperatureCentiC, humidityPermille, rssiDbm: this.rssi };
  }
}

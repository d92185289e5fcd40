/**
 * Charges a SimBattery for what a device actually does, by wrapping its ports: every
 * connection attempt costs a lump (radio association, TCP/TLS handshake), every socket
 * write a TX burst (wake + airtime), every byte received its airtime at the receive current,
 * every sensor sample an active period. Wrap a virtual device's
 * network and sensors with these and any agent — with any reconnect policy — drains the
 * battery in proportion to its behaviour, with no hooks in core. Node-free (runs in XS).
 */
import type { Network, Sensors, Socket, SocketHandler, SocketOptions } from "../../device/ports";
import { DEFAULT_LINK_RATE_BPS } from "../fleet/radio";
import { airtimeMicros } from "../virtual/network";
import type { SimBattery } from "./sim-battery";

export interface PowerCosts {
  /** Radio wake + TX of a small packet, ms. */
  txBaseMs: number;
  /**
   * The link's rate, bit/s each direction: a write keeps the radio sending for its airtime at this
   * rate, and bytes received keep it receiving for theirs. The fleet gives its device's radio rate
   * (host-sim/fleet/radio.ts linkRateBps), the same number the virtual network paces the link
   * with, so a transfer costs the radio time it takes.
   */
  rateBps: number;
  /** Current while the radio receives, µA (ESP32 datasheet: RX 802.11b/g/n about 95–100 mA). */
  receiveUa: number;
  /** CPU + sensor power-up per sample, ms. */
  sampleActiveMs: number;
  /**
   * CPU time (at the active current) of a wake that only reads the battery ADC: the light-sleep
   * exit and entry plus one ADC conversion. 2 ms × 80 mA ≈ 0.16 mA·s, a little more than one
   * Wi-Fi DTIM beacon wake costs an ESP32 in auto light-sleep (ESP-IDF "Low Power Mode in Wi-Fi
   * Scenarios", ESP32: 3.34 mA average at DTIM1 vs 2.19 mA at DTIM10, ≈ 0.13 mA·s per beacon
   * at a 102.4 ms beacon interval). host-sim/battery/README.md says more.
   */
  batteryWakeMs: number;
}

export const DEFAULT_POWER_COSTS: PowerCosts = { txBaseMs: 20, rateBps: DEFAULT_LINK_RATE_BPS, receiveUa: 100_000, sampleActiveMs: 300, batteryWakeMs: 2 };

/** Radio-on time of one write, ms: the wake plus the bytes' airtime (rounded up). */
export function transmitMs(bytes: number, c: PowerCosts = DEFAULT_POWER_COSTS): number {
  return c.txBaseMs + Math.ceil(airtimeMicros(bytes, c.rateBps) / 1000);
}

/**
 * Charges reception: each chunk's airtime at the receive current, in whole ms. The µs left over
 * carry to the next chunk, so a stream of small packets (PUBACKs) costs its true airtime and
 * calls the battery once per ms of it, not once per packet.
 */
class ReceiveCharge implements SocketHandler {
  private micros = 0;

  constructor(
    private readonly inner: SocketHandler,
    private readonly battery: SimBattery,
    private readonly costs: PowerCosts,
  ) {}

  onConnect(): void {
    this.inner.onConnect();
  }

  onData(bytes: Uint8Array): void {
    this.micros += airtimeMicros(bytes.length, this.costs.rateBps);
    if (this.micros >= 1000) {
      const ms = Math.floor(this.micros / 1000);
      this.micros -= ms * 1000;
      this.battery.burst(this.costs.receiveUa - this.battery.model.sleepUa, ms, "radio");
    }
    this.inner.onData(bytes);
  }

  onClose(reason: string): void {
    this.inner.onClose(reason);
  }
}

export function poweredNetwork(network: Network, battery: SimBattery, costs: PowerCosts = DEFAULT_POWER_COSTS): Network {
  return {
    connect(options: SocketOptions, handler: SocketHandler): Socket {
      battery.connectionAttempt();
      const socket = network.connect(options, new ReceiveCharge(handler, battery, costs));
      return {
        write(bytes: Uint8Array): number {
          battery.transmit(transmitMs(bytes.length, costs));
          return socket.write(bytes);
        },
        close(): void {
          socket.close();
        },
      };
    },
  };
}

export function poweredSensors(sensors: Sensors, battery: SimBattery, costs: PowerCosts = DEFAULT_POWER_COSTS): Sensors {
  return {
    sample() {
      battery.active(costs.sampleActiveMs);
      return sensors.sample();
    },
  };
}

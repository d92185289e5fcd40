/**
 * Charges a SimBattery for what a device actually does, by wrapping its ports: every
 * connection attempt costs a lump (radio association, TCP/TLS handshake), every socket
 * write a TX burst, every sensor sample an active period. Wrap a virtual device's
 * network and sensors with these and any agent — with any reconnect policy — drains the
 * battery in proportion to its behaviour, with no hooks in core. Node-free (runs in XS).
 */
import type { Network, Sensors, Socket, SocketHandler, SocketOptions } from "../../device/ports";
import type { SimBattery } from "./sim-battery";

export interface PowerCosts {
  /** Radio wake + TX of a small packet, ms. */
  txBaseMs: number;
  /** Effective air rate: ms per KiB written (≈ 1 Mbit/s with overheads → 8 ms). */
  txMsPerKiB: number;
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

export const DEFAULT_POWER_COSTS: PowerCosts = { txBaseMs: 20, txMsPerKiB: 8, sampleActiveMs: 300, batteryWakeMs: 2 };

export function transmitMs(bytes: number, c: PowerCosts = DEFAULT_POWER_COSTS): number {
  return c.txBaseMs + Math.ceil((bytes * c.txMsPerKiB) / 1024);
}

export function poweredNetwork(network: Network, battery: SimBattery, costs: PowerCosts = DEFAULT_POWER_COSTS): Network {
  return {
    connect(options: SocketOptions, handler: SocketHandler): Socket {
      battery.connectionAttempt();
      const socket = network.connect(options, handler);
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

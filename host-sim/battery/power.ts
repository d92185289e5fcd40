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
}

export const DEFAULT_POWER_COSTS: PowerCosts = { txBaseMs: 20, txMsPerKiB: 8, sampleActiveMs: 300 };

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

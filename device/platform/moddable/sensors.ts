/** Sensors port: Wi-Fi RSSI from "net"; boards with a temperature/humidity sensor add it here. */
import Net from "net";
import type { Sensors, SensorSample } from "../../ports";

export class NetSensors implements Sensors {
  sample(): SensorSample {
    let rssi: unknown;
    try {
      rssi = Net.get("RSSI");
    } catch {
      rssi = undefined; // not associated
    }
    return typeof rssi === "number" && Number.isFinite(rssi) ? { rssiDbm: Math.round(rssi) } : {};
  }
}

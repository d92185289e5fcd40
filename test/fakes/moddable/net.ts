/** Fake of Moddable's "net": resolve(name, callback) answers from the world's DNS on a later turn. */
import { world } from "./world";

const Net = {
  resolve(name: string, callback: (name: string, address?: string) => void): void {
    const w = world();
    w.chipTimeout(() => callback(name, w.wifi.available ? w.dns.get(name) : undefined), 1);
  },
  get(what: string): string | number | undefined {
    const w = world();
    if (what === "RSSI") return w.wifi.available ? w.wifi.rssi : undefined;
    if (what === "SSID") return w.wifi.ssid;
    if (what === "IP") return w.wifi.available ? "10.0.0.2" : undefined;
    return undefined;
  },
};

export default Net;

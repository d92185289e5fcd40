/**
 * Reads the device configuration from the manifest's `config` (module "mc/config"). Every value
 * can be set on the mcconfig / xs-dev command line (`broker=mqtts://...`), where it arrives
 * as a string, so numbers are parsed here and bad values fail at boot with a clear message.
 * Wi-Fi uses wifiSsid/wifiPassword, not Moddable's ssid/password: with those set, Moddable's
 * setup/network would hold main() until Wi-Fi and SNTP are up, and a device out of range would
 * never start. wifi.ts brings the link up and keeps retrying instead.
 */
import { setErrorName } from "../../core/util/error-name";
export interface DeviceConfig {
  deviceId: string;
  brokers: string[];
  ssid: string;
  password?: string;
  sntpHost: string;
  /** Hex ed25519 public key that signs OTA manifests. */
  otaPublicKey?: string;
  /** The hardware id OTA manifests must name (the board type, not the device). */
  hardwareId: string;
  firmwareVersion: string;
  telemetryIntervalMs?: number;
  batteryPin: number;
  batteryFullScaleMv: number;
  /** Name of the DER CA resource (manifest `data`) for mqtts:// brokers. */
  caResource: string;
}

export class DeviceConfigError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "DeviceConfigError");
  }
}

function str(raw: Record<string, unknown>, key: string, fallback?: string): string {
  const v = raw[key];
  if (v === undefined || v === "") {
    if (fallback !== undefined) return fallback;
    throw new DeviceConfigError(`config.${key} is required (mcconfig ${key}=...)`);
  }
  return String(v);
}

function int(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === "") {
    if (fallback !== undefined) return fallback;
    throw new DeviceConfigError(`config.${key} is required (mcconfig ${key}=...)`);
  }
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isInteger(n)) throw new DeviceConfigError(`config.${key} must be an integer, got "${String(v)}"`);
  return n;
}

export function readDeviceConfig(raw: Record<string, unknown>): DeviceConfig {
  const deviceId = str(raw, "deviceId");
  const brokers = str(raw, "broker")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const key = raw.otaPublicKey === undefined || raw.otaPublicKey === "" ? undefined : String(raw.otaPublicKey);
  if (key !== undefined && !/^[0-9a-fA-F]{64}$/.test(key)) throw new DeviceConfigError("config.otaPublicKey must be 64 hex digits (an ed25519 public key)");
  const interval = raw.telemetryIntervalMs === undefined || raw.telemetryIntervalMs === "" ? undefined : int(raw, "telemetryIntervalMs");
  return {
    deviceId,
    brokers,
    ssid: str(raw, "wifiSsid"),
    password: raw.wifiPassword === undefined || raw.wifiPassword === "" ? undefined : String(raw.wifiPassword),
    sntpHost: str(raw, "sntp", "pool.ntp.org"),
    otaPublicKey: key,
    hardwareId: str(raw, "hardwareId", "tether-esp32"),
    firmwareVersion: str(raw, "firmwareVersion", "0.0.0"),
    telemetryIntervalMs: interval,
    batteryPin: int(raw, "batteryPin", 35),
    batteryFullScaleMv: int(raw, "batteryFullScaleMv", 6600),
    caResource: str(raw, "caResource", "broker-ca.der"),
  };
}

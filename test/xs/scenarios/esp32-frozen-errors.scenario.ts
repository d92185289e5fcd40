/**
 * The board's agent bundle is preloaded, and Moddable's preload leaves the built-ins frozen, so
 * `this.name = "X"` in an Error subclass's constructor throws "set name: not writable" there
 * (seen in mcsim: a truncated config was refused as "not CBOR: set name: not writable"). This
 * freezes the Error prototypes as the board has them and makes every error class the ESP32
 * bundle holds: each must construct, keep its name, message and class. Run in XS only (a fresh
 * xsnap process): freezing Error.prototype inside the test runner would break the runner.
 */
import type { ScenarioHost } from "../scenario-host";
import { FlashError, KvError, RollbackFailed } from "../../../device/ports";
import { AgentConfigError } from "../../../device/core/agent";
import { BatteryInputError } from "../../../device/core/battery/soc";
import { IntervalError } from "../../../device/core/config/intervals";
import { OutboxError } from "../../../device/core/link/outbox";
import { MqttError } from "../../../device/core/mqtt/client";
import { MqttEncodeError } from "../../../device/core/mqtt/codec";
import { ParseError } from "../../../device/core/mqtt/parser";
import { ManifestError } from "../../../device/core/ota/manifest";
import { TelemetryError } from "../../../device/core/telemetry/record";
import { BrokerUrlError } from "../../../device/core/util/broker-url";
import { CborScanError } from "../../../device/core/util/cbor-scan";
import { cborDecode } from "../../../device/core/util/cbor";
import { BootError } from "../../../device/platform/moddable/boot";
import { DeviceConfigError } from "../../../device/platform/moddable/config";

export function run(host: ScenarioHost): void {
  for (const C of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) Object.freeze(C.prototype);
  const makers: [string, () => Error, Function][] = [
    ["KvError", () => new KvError("full", "m"), KvError],
    ["FlashError", () => new FlashError("io", "m"), FlashError],
    ["RollbackFailed", () => new RollbackFailed("m"), RollbackFailed],
    ["AgentConfigError", () => new AgentConfigError("m"), AgentConfigError],
    ["BatteryInputError", () => new BatteryInputError("m"), BatteryInputError],
    ["IntervalError", () => new IntervalError("m"), IntervalError],
    ["OutboxError", () => new OutboxError("m"), OutboxError],
    ["MqttError", () => new MqttError("m"), MqttError],
    ["MqttEncodeError", () => new MqttEncodeError("m"), MqttEncodeError],
    ["ParseError", () => new ParseError("m"), ParseError],
    ["ManifestError", () => new ManifestError("m"), ManifestError],
    ["TelemetryError", () => new TelemetryError("decode", "m"), TelemetryError],
    ["BrokerUrlError", () => new BrokerUrlError("m"), BrokerUrlError],
    ["CborScanError", () => new CborScanError("m"), CborScanError],
    ["BootError", () => new BootError("no-slot", "m"), BootError],
    ["DeviceConfigError", () => new DeviceConfigError("m"), DeviceConfigError],
  ];
  for (const [name, make, C] of makers) {
    let line: string;
    try {
      const e = make();
      line = `${name}: name=${e.name} message=${e.message} instance=${e instanceof C && e instanceof Error}`;
    } catch (e) {
      line = `${name}: threw ${String(e)}`;
    }
    host.emit(line);
  }
  // What the board did with a truncated config: the scan's own error, not a TypeError.
  try {
    cborDecode(Uint8Array.of(0xa2, 0x00, 0x01, 0x01, 0x78));
    host.emit("truncated: decoded");
  } catch (e) {
    host.emit(`truncated: ${(e as Error).name}: ${(e as Error).message}`);
  }
  host.emit("done");
}

// Deeply nested CBOR from the network, inside XS: config messages of arrays nested 70 and
// 250 deep arrive (QoS 1) at a device running the real Link and ConfigChannel on the
// virtual broker; an OTA envelope, a manifest and an OTA status of the same shape are parsed.
// Before the depth bound, the 70-deep message aborted xsnap ("stack overflow", exit 2) and
// the unacknowledged message came back after every reset. Now each is refused with a result
// code, the config message is acknowledged, and a reboot does not bring it back.
import type { ScenarioHost } from "../scenario-host";
import { ConfigChannel } from "../../../device/core/config/config-channel";
import { decodeConfigResult } from "../../../device/core/config/telemetry-config";
import { parseEnvelope, parseManifest } from "../../../device/core/ota/manifest";
import { decodeStatus } from "../../../device/core/ota/status";
import { VirtualDevice, makeWorld } from "../../link/world";

const nested = (depth: number) => {
  const b = new Uint8Array(depth + 1);
  b.fill(0x81, 0, depth); // array of one element, depth times, around a 0
  return b;
};

function attempt(what: string, f: () => unknown): string {
  try {
    f();
    return `${what}: accepted`;
  } catch (e) {
    return `${what}: refused (${(e as Error).message})`;
  }
}

export function run(host: ScenarioHost): void {
  const w = makeWorld(70);
  const dev = new VirtualDevice(w, "xd", {}, 0);
  const results: string[] = [];
  w.broker.subscribeInternal("tether/xd/config/result", (_t, p) => {
    const r = decodeConfigResult(p);
    results.push(`code=${r.code} ${r.error ?? ""}`);
  });
  let handled = 0;
  const wire = () => {
    const channel = new ConfigChannel("xd", dev.link, { currentConfig: { reportIntervalMs: 60_000, sampleIntervalMs: 60_000 }, setConfig: () => {} }, dev.kv);
    dev.link.subscribe([{ topic: channel.topic, qos: 1 }]);
    dev.onLinkEvent = (e) => {
      if (e.type === "message" && channel.onMessage(e.topic, e.payload)) handled++;
    };
  };
  wire();
  w.clock.advance(60_000);
  for (const depth of [70, 250]) w.broker.publishInternal("tether/xd/config", nested(depth), { qos: 1 });
  w.clock.advance(10_000);
  host.emit(`online=${dev.link.state} handled=${handled}`);
  for (const r of results) host.emit(`result ${r}`);
  // A reset: the persistent session must not hand the poison back.
  dev.powerCut();
  dev.boot();
  wire();
  w.clock.advance(60_000);
  host.emit(`after reboot online=${dev.link.state} handled=${handled} results=${results.length}`);
  for (const depth of [9, 70, 5000]) {
    const b = nested(depth);
    host.emit(attempt(`envelope ${depth}`, () => parseEnvelope(b)));
    host.emit(attempt(`manifest ${depth}`, () => parseManifest(b)));
    host.emit(attempt(`status ${depth}`, () => decodeStatus(b)));
  }
  // Arrays nested 8 deep (the limit) still decode (then fail the shape check): legitimate input pays nothing.
  host.emit(attempt("status 8", () => decodeStatus(nested(8))));
}

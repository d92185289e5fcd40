/**
 * `tether demo` (what `npm start` runs): the embedded broker (aedes, in-process), one
 * virtual device on it, and a backend-side subscriber that decodes what arrives — so the
 * terminal shows both what the device did and what a backend received.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedBroker } from "../../host-sim/brokers/embedded";
import { startNodeDevice } from "../../host-sim/node-device";
import { consoleLog } from "../../device/platform/node/log";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { boundedIntFlag, parseFlags } from "../args";
import { checkDeviceId, reportIntervalFlag } from "../device-flags";
import { printAgentEvent, printBootMessage } from "../print-event";
import { untilSignal } from "./device";

const HELP = `usage: tether demo [--port N] [--id ID] [--interval MS] [--state DIR] [--json]

Starts the embedded MQTT broker on 127.0.0.1:PORT (default 1883; a free port if it is taken),
boots one virtual device on it and prints what it does and what the broker received, until Ctrl-C.
`;

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    port: { type: "string" },
    id: { type: "string" },
    interval: { type: "string" },
    state: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const port = boundedIntFlag(values.port, "port", 1883, 0, 65535);
  const id = checkDeviceId(values.id ?? "demo-1");
  const interval = reportIntervalFlag(values.interval, 3000);
  const broker = await startEmbeddedBroker({ port, fallbackToFreePort: values.port === undefined });
  const say = (s: string) => process.stdout.write(s + "\n");
  say(`tether demo: embedded MQTT broker (aedes) on ${broker.url}`);
  say(`             watch it from another terminal: mosquitto_sub -h ${broker.host} -p ${broker.port} -t 'tether/#' -v`);

  // Backend side: what actually reached the broker, decoded.
  broker.aedes.subscribe(
    "tether/+/telemetry",
    (packet, cb) => {
      try {
        const batch = decodeTelemetryBatch(new Uint8Array(packet.payload as Buffer));
        if (!values.json) say(`${new Date().toISOString().slice(11, 23)} broker   received ${packet.topic} seq ${batch.seq} (${(packet.payload as Buffer).length} bytes) ✓ decodes`);
      } catch (err) {
        say(`broker   received ${packet.topic}: does not decode: ${(err as Error).message}`);
      }
      cb();
    },
    () => {},
  );

  const stateDir = values.state ?? mkdtempSync(join(tmpdir(), "tether-demo-"));
  say(`             device ${id} keeps its state in ${stateDir}${values.state ? "" : " (removed at exit; --state DIR keeps it)"}; Ctrl-C stops\n`);
  // Listen for Ctrl-C before the device starts: a signal during boot still stops it cleanly (and releases --state).
  const signalled = untilSignal();
  const device = await startNodeDevice({
    deviceId: id,
    brokers: [broker.url],
    stateDir,
    telemetry: { reportIntervalMs: interval, sampleIntervalMs: Math.max(100, Math.floor(interval / 3)) },
    // One device on a laptop: no site-wide power return to spread out, so connect quickly.
    link: { backoff: { powerOnMaxMs: 1000 } },
    log: consoleLog(id, "warn"),
    onEvent: (e) => printAgentEvent(id, e, values.json ?? false),
    onBoot: (m) => printBootMessage(id, m, values.json ?? false),
  });
  await signalled;
  device.stop();
  await new Promise((r) => setTimeout(r, 100));
  await broker.close();
  // A state directory we made up is ours to remove; one the user named is theirs to keep.
  if (values.state === undefined) rmSync(stateDir, { recursive: true, force: true });
  say("\ntether demo: stopped");
  return 0;
}

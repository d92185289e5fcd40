/** `tether device`: one virtual device against any MQTT broker, events printed as they happen. */
import { readFileSync } from "node:fs";
import { startNodeDevice } from "../../host-sim/node-device";
import { readPublicKey } from "../ota/keys";
import { parseBrokerUrl } from "../../device/core/util/broker-url";
import { SysfsBattery, findSysfsBattery, SYSFS_POWER_SUPPLY } from "../../device/platform/node/battery";
import { consoleLog } from "../../device/platform/node/log";
import { intFlag, parseFlags, UsageError } from "../args";
import { printAgentEvent, printBootMessage } from "../print-event";

const HELP = `usage: tether device --id ID --broker URL [--broker URL ...] [options]

  --id ID          device id (client id and topic level)
  --broker URL     mqtt://host:port or mqtts://host:port; repeat for fail-over
  --state DIR      keep flash and key-value state in DIR (identity and sequence numbers survive restarts)
  --interval MS    telemetry report interval (default 5000)
  --sample MS      sensor sampling interval (default: the report interval)
  --ca FILE        PEM CA certificate for mqtts://
  --user NAME      MQTT user name
  --password PW    MQTT password
  --power-on-max MS  the random power-on delay before the first connect is U(0, MS) (default 30000)
  --battery sim|sysfs  the simulated LiPo (default) or this host's own battery (Linux sysfs)
  --ota-key FILE   ed25519 public key (tether ota keygen's .pub) trusted for OTA manifests; repeatable
  --hardware ID    hardware id OTA manifests must name (default tether-devkit)
  --json           one JSON object per event
  --verbose        debug logging
`;

export async function runDevice(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    id: { type: "string" },
    broker: { type: "string", multiple: true },
    state: { type: "string" },
    interval: { type: "string" },
    sample: { type: "string" },
    ca: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
    "power-on-max": { type: "string" },
    battery: { type: "string" },
    "ota-key": { type: "string", multiple: true },
    hardware: { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.id) throw new UsageError("--id is required");
  if (!values.broker?.length) throw new UsageError("--broker is required (e.g. mqtt://127.0.0.1:1883)");
  const reportIntervalMs = intFlag(values.interval, "interval", 5000, 100);
  const sampleIntervalMs = intFlag(values.sample, "sample", reportIntervalMs, 100);
  let batteryAdc: SysfsBattery | undefined;
  if (values.battery === "sysfs") {
    const dir = findSysfsBattery();
    if (dir === undefined) throw new UsageError(`--battery sysfs: no battery under ${SYSFS_POWER_SUPPLY} on this host`);
    batteryAdc = new SysfsBattery(dir);
  } else if (values.battery !== undefined && values.battery !== "sim") {
    throw new UsageError(`--battery must be "sim" or "sysfs", got "${values.battery}"`);
  }
  const brokers = values.broker.map((url) => withCredentials(url, values.user, values.password));
  for (const url of brokers) parseBrokerUrl(url); // a bad URL is a usage error, before anything starts
  const device = await startNodeDevice({
    deviceId: values.id,
    brokers,
    stateDir: values.state,
    ota: { hardwareId: values.hardware, trustedKeys: (values["ota-key"] ?? []).map((f) => readPublicKey(f)) },
    batteryAdc,
    caCert: values.ca ? readFileSync(values.ca, "utf8") : undefined,
    telemetry: { reportIntervalMs, sampleIntervalMs },
    link: { backoff: { powerOnMaxMs: intFlag(values["power-on-max"], "power-on-max", 30_000, 0) } },
    log: consoleLog(values.id, values.verbose ? "debug" : "warn"),
    onEvent: (e) => printAgentEvent(values.id!, e, values.json ?? false),
    onBoot: (m) => printBootMessage(values.id!, m, values.json ?? false),
  });
  await untilSignal();
  device.stop();
  return 0;
}

/** Adds --user/--password to a URL that does not carry its own. */
function withCredentials(url: string, user?: string, password?: string): string {
  if (user === undefined || /^mqtts?:\/\/[^/]*@/.test(url)) return url;
  const auth = encodeURIComponent(user) + (password === undefined ? "" : `:${encodeURIComponent(password)}`);
  return url.replace(/^(mqtts?:\/\/)/, `$1${auth}@`);
}

export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

/** `tether device`: one virtual device against any MQTT broker, events printed as they happen. */
import { startNodeDevice } from "../../host-sim/node-device";
import { BOOT_MODELS, type BootModelName } from "../../host-sim/boot/boot-models";
import { readPublicKey } from "../ota/keys";
import { SysfsBattery, findSysfsBattery, SYSFS_POWER_SUPPLY } from "../../device/platform/node/battery";
import { consoleLog } from "../../device/platform/node/log";
import { parseFlags, UsageError } from "../args";
import { CONNECT_HELP, CONNECT_OPTIONS, PASSWORD_ENV, resolveConnection } from "../connect-flags";
import { checkDeviceId, powerOnMaxFlag, REPORT_INTERVAL_MS, reportIntervalFlag, SAMPLE_INTERVAL_MS, sampleIntervalFlag } from "../device-flags";
import { printAgentEvent, printBootMessage } from "../print-event";

const HELP = `usage: tether device --id ID --broker URL [--broker URL ...] [options]

  --id ID          device id (client id and topic level): 1-48 of A-Z a-z 0-9 . _ -
${CONNECT_HELP}  --state DIR      keep flash and key-value state in DIR (identity and sequence numbers survive restarts);
                   one process per DIR (it is locked)
  --interval MS    telemetry report interval, ${REPORT_INTERVAL_MS.min}..${REPORT_INTERVAL_MS.max} (default 5000)
  --sample MS      sensor sampling interval, ${SAMPLE_INTERVAL_MS.min}..${SAMPLE_INTERVAL_MS.max} (default: the report interval)
  --power-on-max MS  the random power-on delay before the first connect is U(0, MS) (default 30000)
  --battery sim|sysfs  the simulated LiPo (default) or this host's own battery (Linux sysfs)
  --ota-key FILE   ed25519 public key (tether ota keygen's .pub) trusted for OTA manifests; repeatable
  --hardware ID    hardware id OTA manifests must name (default tether-devkit)
  --boot-model reference|esp-idf  the bootloader and boot records the device boots with: the
                   reference bootloader (default) or ESP-IDF's otadata (in-place rewrites, one trial boot)
  --json           one JSON object per event
  --verbose        debug logging

The MQTT password is never taken on the command line: set ${PASSWORD_ENV} or use --password-file.
`;

export async function runDevice(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    id: { type: "string" },
    ...CONNECT_OPTIONS,
    state: { type: "string" },
    interval: { type: "string" },
    sample: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
    "power-on-max": { type: "string" },
    battery: { type: "string" },
    "ota-key": { type: "string", multiple: true },
    hardware: { type: "string" },
    "boot-model": { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // Every flag is checked before anything touches the state directory.
  const id = checkDeviceId(values.id);
  const connection = resolveConnection(values);
  const reportIntervalMs = reportIntervalFlag(values.interval, 5000);
  const sampleIntervalMs = sampleIntervalFlag(values.sample, reportIntervalMs);
  const powerOnMaxMs = powerOnMaxFlag(values["power-on-max"], 30_000);
  let batteryAdc: SysfsBattery | undefined;
  if (values.battery === "sysfs") {
    const dir = findSysfsBattery();
    if (dir === undefined) throw new UsageError(`--battery sysfs: no battery under ${SYSFS_POWER_SUPPLY} on this host`);
    batteryAdc = new SysfsBattery(dir);
  } else if (values.battery !== undefined && values.battery !== "sim") {
    throw new UsageError(`--battery must be "sim" or "sysfs", got "${values.battery}"`);
  }
  const model = values["boot-model"] ?? "reference";
  if (!(BOOT_MODELS as readonly string[]).includes(model)) throw new UsageError(`--boot-model must be ${BOOT_MODELS.map((m) => `"${m}"`).join(" or ")}, got "${model}"`);
  const trustedKeys = (values["ota-key"] ?? []).map((f) => readPublicKey(f));
  // Listen for Ctrl-C before the device starts: a signal during boot still stops it cleanly (and releases --state).
  const signalled = untilSignal();
  const device = await startNodeDevice({
    deviceId: id,
    brokers: connection.urlsWithCredentials(),
    stateDir: values.state,
    ota: { hardwareId: values.hardware, trustedKeys },
    batteryAdc,
    bootModel: model as BootModelName,
    caCert: connection.caCert,
    telemetry: { reportIntervalMs, sampleIntervalMs },
    link: { backoff: { powerOnMaxMs } },
    log: consoleLog(id, values.verbose ? "debug" : "warn"),
    onEvent: (e) => printAgentEvent(id, e, values.json ?? false),
    onBoot: (m) => printBootMessage(id, m, values.json ?? false),
  });
  await signalled;
  device.stop();
  return 0;
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

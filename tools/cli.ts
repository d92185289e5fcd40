/**
 * The `tether` command line: one entry, a subcommand per job.
 * Each subcommand lives in tools/commands/ and returns an exit code.
 */
import { UsageError } from "./args";
import { runDemo } from "./commands/demo";
import { runStory } from "./commands/story";
import { runDevice } from "./commands/device";
import { runDecode } from "./commands/decode";
import { runOtaCommand } from "./ota/cli";
import { runSim } from "./commands/sim";
import { runBroker } from "./commands/broker";
import { runFleet } from "./commands/fleet";
import { runRollout } from "./commands/rollout";

const USAGE = `usage: tether <command> [options]

commands:
  story                      the fleet service's story on 200 fast-forwarded devices, with its dashboard (npm start)
  demo                       embedded broker + one virtual device, decoded output
  device --id ID --broker URL [--broker URL ...] [--state DIR] [--interval MS] [--ca FILE]
         [--user NAME --password-file FILE]
                             run one virtual device against any MQTT broker
  decode [FILE]              decode a CBOR telemetry batch (file or stdin) to text/JSON
  ota keygen|sign|verify|push  OTA keys, signed bundles, checking them, pushing them to a device
  sim --devices N --duration 7d --seed S [--scenario FILE] [--broker virtual|embedded|mqtt://...]
      [--shards K] [--json FILE]
                             a fleet of real agents: fast-forwarded (virtual broker) or real time
  broker credentials --out DIR --device ID ...
                             per-device MQTT accounts, a Mosquitto password file and ACL
  fleet serve --broker URL --db FILE --http HOST:PORT
                             the fleet service: registry, rollouts, HTTP API (docs/fleet-service.md)
  rollout start|status|pause|resume|cancel|list [--server URL] [ID]
                             rollouts on the fleet service (canary, waves, rate, automatic halt)
  help                       this text

Run 'tether <command> --help' for a command's options.`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  story: runStory,
  demo: runDemo,
  device: runDevice,
  decode: runDecode,
  ota: (argv) => runOtaCommand(argv),
  sim: runSim,
  broker: runBroker,
  fleet: runFleet,
  rollout: runRollout,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE + "\n");
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`tether: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tether ${name}: ${err.message}\n`);
      return 2;
    }
    // Configuration and input errors carry a clear message; the stack helps only when debugging.
    const detail = process.env.TETHER_DEBUG ? ((err as Error).stack ?? String(err)) : ((err as Error).message ?? String(err));
    process.stderr.write(`tether ${name}: ${detail}\n`);
    return 1;
  }
}

/** Registers a subcommand (for modules that add their own, e.g. `ota`, `sim`). */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}

/**
 * `tether fleet serve`: the fleet service as a long-running process beside the broker.
 * Stops cleanly on SIGINT/SIGTERM; `kill -9` is safe too (docs/fleet-service.md).
 */
import fs from "node:fs";
import { realClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import { parseListen } from "../../service/http/server";
import { openDatabase } from "../../service/db/open";
import { parseRetention } from "../../service/db/retention";
import { parseDurationMs } from "../../service/rollouts/spec";
import { MqttSocketTransport } from "../../service/transport/mqtt-socket";
import { parseFlags, UsageError } from "../args";
import { parseRules, parseRulesText } from "../../service/health/config";
import { ProactiveSupport } from "../../service/health/module";
import { COMMISSION_HELP, runCommission } from "./fleet-commission";
import { CONNECT_OPTIONS, resolveConnection } from "../connect-flags";

const HELP = `usage: tether fleet serve --broker URL [--db FILE] [--http HOST:PORT] [options]

  --broker URL          mqtt://host:port or mqtts://host:port of the devices' broker; repeat or
                        comma-separate the nodes of a cluster (each reconnect tries the next)
  --user NAME           MQTT user name of the service account (or in the URL: mqtt://NAME@host)
  --password-file FILE  its password (first line of FILE), or set $TETHER_PASSWORD; never on the
                        command line
  --ca FILE             PEM CA certificate(s) trusted for mqtts://
  --db FILE             the fleet database (SQLite, created if missing; default fleet.db)
  --http HOST:PORT      the HTTP API (default 127.0.0.1:8080); beyond loopback needs --token-file
  --token-file FILE     bearer token for the HTTP API (first line of FILE, ≥ 16 characters)
  --client-id ID        the service's MQTT client id (default tether-fleet-service); keep it
                        stable: the broker holds the session's unacknowledged messages under it
  --tick D              how often rollouts advance (default 5s)
  --rules FILE          health rules and their actions (JSON; docs/fleet-service.md); without it
                        the default rules run and no actions
  --keep-telemetry D    delete telemetry rows older than D (default 30d; "forever" keeps all)
  --keep-events D       device events (online, boot, ota ...) older than D (default 90d)
  --keep-audit D        the HTTP audit log older than D (default 365d)
  --keep-fw-hourly D    hourly firmware health buckets older than D (default 90d, at least 7d);
                        a live rollout's buckets stay whatever D is
  --check-db            run the full integrity check of the database at start (it runs by
                        itself after a run that did not shut down cleanly)

${COMMISSION_HELP}`;

export async function runFleet(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "serve") return serve(rest);
  if (sub === "commission") return runCommission(rest);
  if (sub === undefined || sub === "--help" || sub === "help") {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown subcommand "${sub}" (expected: serve, commission)`);
}

async function serve(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    ...CONNECT_OPTIONS,
    db: { type: "string" },
    http: { type: "string" },
    "token-file": { type: "string" },
    "client-id": { type: "string" },
    tick: { type: "string" },
    rules: { type: "string" },
    "keep-telemetry": { type: "string" },
    "keep-events": { type: "string" },
    "keep-audit": { type: "string" },
    "keep-fw-hourly": { type: "string" },
    "check-db": { type: "boolean" },
    help: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const brokers = (values.broker ?? []).flatMap((b) => b.split(",")).filter((b) => b.length > 0);
  // The same checks as `tether device`: no password in argv, a user for a password, a CA that parses.
  const connection = resolveConnection({ ...values, broker: brokers });
  let listen: { host: string; port: number };
  try {
    listen = parseListen(values.http ?? "127.0.0.1:8080");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let transport: MqttSocketTransport;
  try {
    transport = new MqttSocketTransport({
      url: brokers,
      clientId: values["client-id"] ?? "tether-fleet-service",
      username: connection.username,
      password: connection.password,
      caFile: values.ca,
      log,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let tickMs: number | undefined;
  try {
    tickMs = values.tick === undefined ? undefined : parseDurationMs(values.tick, "--tick");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Read the rules before anything starts: a bad file is a clear error, not a half-started service.
  let rules;
  try {
    rules = values.rules === undefined ? parseRules({}) : parseRulesText(fs.readFileSync(values.rules, "utf8"));
  } catch (err) {
    throw new UsageError(`--rules ${values.rules}: ${(err as Error).message}`);
  }
  let retention;
  try {
    retention = parseRetention({ telemetry: values["keep-telemetry"], events: values["keep-events"], audit: values["keep-audit"], fwHourly: values["keep-fw-hourly"] });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const db = openDatabase(values.db ?? "fleet.db", { fullCheck: values["check-db"] ?? false });
  const service = new FleetService({ db, clock: realClock, transport, log, rollouts: { tickMs }, retention });
  await service.use(new ProactiveSupport(service, rules));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await service.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  try {
    const at = await service.listen({ ...listen, tokenFile: values["token-file"] });
    process.stdout.write(`fleet service: dashboard on ${at.url}/\n`);
    process.stdout.write(`fleet service: HTTP API on ${at.url}/api, database ${values.db ?? "fleet.db"}\n`);
    await service.start();
    process.stdout.write(`fleet service: subscribed on ${brokers.join(", ")}\n`);
  } catch (err) {
    await service.close();
    throw err;
  }
  await new Promise<never>(() => {}); // runs until a signal
  return 0;
}

/**
 * The fleet service, composed: database, ingest into the registry, HTTP API, and the modules
 * that hang off them (rollouts here; health rules, actions and the dashboard in service/health
 * and service/web). Nothing here knows whether time is real or virtual, or which broker
 * carries the messages: `tether fleet serve` passes the real clock and a socket transport,
 * host-sim passes its virtual clock and the virtual broker.
 */
import type { ServiceClock } from "./clock";
import { openDatabase, type Db } from "./db/open";
import { RetentionJob, type RetentionPolicy } from "./db/retention";
import { HttpApi, type HttpOptions } from "./http/server";
import { Ingest } from "./registry/ingest";
import { Registry } from "./registry/registry";
import { registerDeviceRoutes, type DeviceEntryPart } from "./registry/routes";
import { SERVICE_FILTERS } from "./registry/topics";
import { registerRolloutRoutes } from "./rollouts/routes";
import { RolloutRunner, type RunnerOptions } from "./rollouts/runner";
import type { ServiceTransport } from "./transport/transport";

export interface FleetServiceOptions {
  /** A database file (created if missing) or an open database. */
  db: string | Db;
  clock: ServiceClock;
  transport: ServiceTransport;
  log?: (line: string) => void;
  rollouts?: RunnerOptions;
  /** Prune old telemetry, events, audit and fw_hourly (`tether fleet serve` passes DEFAULT_RETENTION); none when absent. */
  retention?: RetentionPolicy;
}

/** A part of the service with its own lifecycle (rollout runner, health rules, ...). */
export interface ServiceModule {
  /** Called before the transport connects; register listeners and timers here (publishes wait for the connection). */
  start?(): void | Promise<void>;
  /** Called on close, in reverse order of registration. */
  stop?(): void | Promise<void>;
}

export class FleetService {
  readonly db: Db;
  readonly clock: ServiceClock;
  readonly transport: ServiceTransport;
  readonly ingest: Ingest;
  readonly registry: Registry;
  readonly http: HttpApi;
  readonly rollouts: RolloutRunner;
  readonly retention?: RetentionJob;
  readonly log: (line: string) => void;
  /** Sections modules add to each device entry (GET /api/devices/ID). */
  readonly deviceEntryParts: DeviceEntryPart[] = [];
  private readonly modules: ServiceModule[] = [];
  private started = false;
  private closed = false;

  constructor(options: FleetServiceOptions) {
    this.db = typeof options.db === "string" ? openDatabase(options.db) : options.db;
    this.clock = options.clock;
    this.transport = options.transport;
    this.log = options.log ?? (() => {});
    this.ingest = new Ingest(this.db, this.clock, this.log);
    this.registry = new Registry(this.db);
    this.http = new HttpApi(this.db, this.clock);
    registerDeviceRoutes(this.http, this.registry, this.clock, this.deviceEntryParts);
    this.rollouts = new RolloutRunner(this, options.rollouts);
    this.modules.push(this.rollouts);
    registerRolloutRoutes(this.http, this.rollouts);
    if (options.retention) {
      this.retention = new RetentionJob(this.db, this.clock, options.retention, this.log);
      this.modules.push(this.retention);
    }
    this.transport.onBatch((batch) => this.ingest.handle(batch));
  }

  /** Adds a module; its start() runs in start() (or at once if the service already started). */
  async use(module: ServiceModule): Promise<void> {
    this.modules.push(module);
    if (this.started) await module.start?.();
  }

  /**
   * Starts the modules, then connects and subscribes. Modules first: the broker delivers what
   * queued up for the session right after the connection, and their listeners must hear it.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // Synchronous when no module start is asynchronous: under the simulator's virtual clock the
    // service must be subscribed before the clock moves on (no microtask runs in between).
    const waits = this.modules.map((m) => m.start?.()).filter((r): r is Promise<void> => r instanceof Promise);
    if (waits.length > 0) await Promise.all(waits);
    await this.transport.start(SERVICE_FILTERS);
  }

  listen(options: HttpOptions): Promise<{ host: string; port: number; url: string }> {
    return this.http.listen(options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of [...this.modules].reverse()) await m.stop?.();
    await this.http.close();
    await this.transport.close();
    this.db.close();
  }
}

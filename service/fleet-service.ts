/**
 * The fleet service, composed: database, ingest into the registry, HTTP API, and the modules
 * that hang off them (rollouts here; health rules, actions and the dashboard in service/health
 * and service/web). Nothing here knows whether time is real or virtual, or which broker
 * carries the messages: `tether fleet serve` passes the real clock and a socket transport,
 * host-sim passes its virtual clock and the virtual broker.
 */
import type { ServiceClock } from "./clock";
import { openDatabase, type Db } from "./db/open";
import { HttpApi, type HttpOptions } from "./http/server";
import { Ingest } from "./registry/ingest";
import { Registry } from "./registry/registry";
import { registerDeviceRoutes } from "./registry/routes";
import { SERVICE_FILTERS } from "./registry/topics";
import type { ServiceTransport } from "./transport/transport";

export interface FleetServiceOptions {
  /** A database file (created if missing) or an open database. */
  db: string | Db;
  clock: ServiceClock;
  transport: ServiceTransport;
  log?: (line: string) => void;
}

/** A part of the service with its own lifecycle (rollout runner, health rules, ...). */
export interface ServiceModule {
  /** Called once the transport is subscribed; register listeners and timers here. */
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
  readonly log: (line: string) => void;
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
    registerDeviceRoutes(this.http, this.registry, this.clock);
    this.transport.onBatch((batch) => this.ingest.handle(batch));
  }

  /** Adds a module; its start() runs in start() (or at once if the service already started). */
  async use(module: ServiceModule): Promise<void> {
    this.modules.push(module);
    if (this.started) await module.start?.();
  }

  /** Connects to the broker and subscribes to every device's topics, then starts the modules. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.transport.start(SERVICE_FILTERS);
    this.started = true;
    for (const m of this.modules) await m.start?.();
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

/**
 * Proactive support as a module of the fleet service: feeds the ingest's device changes into the
 * health engine, runs the rules on the service clock, delivers actions through the outbox, and
 * registers the health, alert, commissioning and dashboard routes. `tether fleet serve --rules
 * FILE` and the simulator both add it with `service.use(new ProactiveSupport(service, rules))`.
 */
import type { FleetService, ServiceModule } from "../fleet-service";
import type { DeviceChange } from "../registry/ingest";
import { closeEmailTransports, sendEmail } from "../actions/email";
import { sendCsv } from "../actions/csv";
import { mqttCommandSender } from "../actions/mqtt-command";
import { Outbox, type Sender } from "../actions/outbox";
import { sendWebhook } from "../actions/webhook";
import { Commissioning } from "../commission";
import { registerWebRoutes } from "../web/routes";
import type { ActionConfig, RulesConfig } from "./config";
import { HealthEngine, type AlertChange } from "./engine";
import { knownDevices } from "./seed";

const ENCODER = new TextEncoder();

export interface ProactiveOptions {
  /** Replace a sender (the simulator counts webhook deliveries without HTTP). */
  senders?: Partial<Record<ActionConfig["type"], Sender>>;
  /** Called for each alert event (the `npm start` narration, sim reports). */
  onAlert?: (c: AlertChange) => void;
  /** Serve the dashboard pages (routes under /api are always registered). */
  dashboard?: boolean;
}

export class ProactiveSupport implements ServiceModule {
  readonly engine: HealthEngine;
  readonly outbox: Outbox;
  readonly commissioning: Commissioning;
  private timer: unknown;
  private stopped = false;

  constructor(
    readonly service: FleetService,
    rules: RulesConfig,
    o: ProactiveOptions = {},
  ) {
    const clock = service.clock;
    const publish = (topic: string, payload: string, qos: 0 | 1) => service.transport.publish(topic, ENCODER.encode(payload), { qos });
    this.outbox = new Outbox(service.db, rules.actions, { webhook: sendWebhook, email: sendEmail, csv: sendCsv, mqtt: mqttCommandSender(publish), ...o.senders }, clock);
    this.engine = new HealthEngine({ db: service.db, rules, now: () => clock.now(), outbox: this.outbox });
    this.commissioning = new Commissioning(service.db, this.engine, () => clock.now(), clock);
    if (o.onAlert) this.engine.onAlert(o.onAlert);
    service.ingest.onChanges((changes) => this.changes(changes));
    registerWebRoutes(service.http, this, o.dashboard ?? true);
  }

  private changes(changes: DeviceChange[]): void {
    this.engine.inputs(() => this.feed(changes));
  }

  private feed(changes: DeviceChange[]): void {
    for (const c of changes) {
      switch (c.kind) {
        case "telemetry":
          this.engine.telemetry(c.batch);
          break;
        case "online":
        case "offline":
          this.engine.status(c.deviceId, c.kind === "online");
          break;
        case "ota":
          this.engine.otaStatus(c.deviceId, c.status.state, c.status.result, c.status.version);
          break;
        case "boot":
          break;
      }
    }
  }

  start(): void {
    this.stopped = false;
    // Devices the registry already knows: a restarted service still judges them (offline, cohorts).
    for (const d of knownDevices(this.service.db)) this.engine.seed(d.id, d);
    this.outbox.start();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.service.clock.setTimeout(() => {
      this.timer = undefined;
      this.evaluate();
      this.schedule();
    }, this.engine.rules.evaluateEveryMs);
  }

  /** Refreshes cohort labels from the registry, then runs the rules once. */
  evaluate(): AlertChange[] {
    const labels = this.service.db.prepare(`SELECT id, group_name, hardware FROM devices WHERE group_name IS NOT NULL OR hardware IS NOT NULL`).all() as { id: string; group_name: string | null; hardware: string | null }[];
    for (const l of labels) if (this.engine.snapshot(l.id)) this.engine.meta(l.id, { group: l.group_name ?? undefined, hardware: l.hardware ?? undefined });
    return this.engine.evaluate();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.service.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.outbox.stop();
    closeEmailTransports();
  }
}

/**
 * The fleet service inside a virtual fleet: the same service code (service/) on the fleet's
 * virtual broker and under its virtual clock, with an in-memory (or file) SQLite database and
 * OTA bundles taken from the fleet's FirmwareLibrary. A rollout names its bundle "sim:VERSION"
 * (or "sim:VERSION:crash" for the library's image that crashes at start-up).
 *
 * Node only (the service uses better-sqlite3 and node:crypto); the engine stays Node-free.
 */
import crypto from "node:crypto";
import { parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { offsetClock } from "../../service/clock";
import { FleetService, type ServiceModule } from "../../service/fleet-service";
import { BundleError, type LoadedBundle } from "../../service/rollouts/bundle";
import { parseCreate } from "../../service/rollouts/routes";
import type { RolloutOutcome } from "../../service/web/client/shapes";
import type { VirtualFleet } from "./engine";
import type { FirmwareLibrary } from "./library";
import { VirtualServiceSession } from "./service-transport";

/** Simulated time 0 as calendar time (the service stores Unix ms). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

export function bundleFromLibrary(library: FirmwareLibrary, ref: string): LoadedBundle {
  const m = /^sim:([0-9.]+)(?::(crash))?$/.exec(ref);
  if (!m) throw new BundleError(`bundle "${ref}": in the simulator, name a library build as sim:VERSION or sim:VERSION:crash`);
  const b = library.bundle(m[1], m[2] as "crash" | undefined);
  const manifest = parseManifest(parseEnvelope(b.envelope).manifestBytes);
  const image = new Uint8Array(b.blocks.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of b.blocks) (image.set(x, o), (o += x.length));
  return { dir: ref, envelope: b.envelope, image, manifest, blocks: b.blocks, offerId: new Uint8Array(crypto.createHash("sha256").update(b.envelope).digest()) };
}

export interface AttachedService {
  service: FleetService;
  session: VirtualServiceSession;
  /**
   * Kills the service (as kill -9: what the session has not delivered stays with the broker) and
   * starts a new one on the same database and session. Synchronous, so it can run inside a clock timer.
   */
  restart(): FleetService;
  close(): Promise<void>;
}

export interface ServiceRunOptions {
  /** SQLite file; default in memory. */
  db?: string;
  tickMs?: number;
  healthEveryMs?: number;
  log?: (l: string) => void;
  /** Modules to add to each service made (again after a restart), before it starts. */
  modules?: (service: FleetService) => ServiceModule[];
}

/** Starts the service on the fleet's broker and clock; it is subscribed when this returns. */
export function attachFleetService(fleet: VirtualFleet, options: ServiceRunOptions = {}): AttachedService {
  const clock = offsetClock(fleet.clock, SIM_EPOCH_MS);
  const session = new VirtualServiceSession(fleet.broker, fleet.clock);
  const make = (db: FleetService["db"] | string) => {
    const service = new FleetService({
      db, clock, transport: session.attach(), log: options.log,
      rollouts: { tickMs: options.tickMs ?? 10_000, healthEveryMs: options.healthEveryMs ?? 600_000, resolveBundle: (ref) => bundleFromLibrary(fleet.library, ref) },
    });
    for (const m of options.modules?.(service) ?? []) void service.use(m); // not started yet: use() only registers
    void service.start(); // synchronous here: no module starts asynchronously
    return service;
  };
  const attached: AttachedService = {
    service: make(options.db ?? ":memory:"),
    session,
    restart() {
      const old = attached.service;
      old.rollouts.stop();
      (old.transport as ReturnType<VirtualServiceSession["attach"]>).detach();
      attached.service = make(old.db);
      return attached.service;
    },
    async close() {
      await attached.service.close();
      session.close();
    },
  };
  return attached;
}

/**
 * Creates the scenario's `rollouts` at their times (each entry checked by the service's own
 * request validation, as POST /api/rollouts); the figures fill in as the run goes and in
 * rolloutOutcomes() at its end.
 */
export function scheduleScenarioRollouts(fleet: VirtualFleet, sim: AttachedService): RolloutOutcome[] {
  const figures: RolloutOutcome[] = [];
  for (const r of fleet.o.scenario.rollouts) {
    const f: RolloutOutcome = { bundle: String(r.request.bundle), createdAtMs: r.atMs, status: "not started" };
    figures.push(f);
    fleet.clock.setTimeout(() => {
      try {
        // A later rollout replaces a halted one: cancel what is still live so its devices are free.
        for (const live of sim.service.rollouts.list()) {
          if (live.status === "halted" || live.status === "paused") sim.service.rollouts.command(String(live.id), "cancel");
        }
        f.id = sim.service.rollouts.create(parseCreate(r.request)).id;
      } catch (err) {
        f.error = (err as Error).message;
      }
    }, r.atMs);
  }
  return figures;
}

/** After the run: each rollout's status, counts, halt (rule, numbers, when) and the ground truth. */
export function rolloutOutcomes(fleet: VirtualFleet, sim: AttachedService, figures: RolloutOutcome[]): RolloutOutcome[] {
  for (const f of figures) {
    if (!f.id) continue;
    const s = sim.service.rollouts.status(f.id) as { status: string; counts: RolloutOutcome["counts"] };
    const halted = sim.service.rollouts.store.events(f.id, 10_000).find((e) => e.kind === "halted");
    f.status = s.status;
    f.counts = s.counts;
    f.offered = sim.service.rollouts.devices(f.id).filter((d) => d.offers > 0).length;
    f.devicesRan = fleet.firmware.devicesThatRan(f.bundle.split(":")[1]);
    if (halted) {
      const { rule, ...detail } = halted.detail as { rule: string } & Record<string, unknown>;
      f.haltRule = rule;
      f.haltDetail = detail;
      f.haltAfterMs = halted.at - SIM_EPOCH_MS - f.createdAtMs;
    }
  }
  return figures;
}

/** Runs a virtual fleet with the fleet service attached and the scenario's `rollouts` created at their times. */
export function runFleetWithService(fleet: VirtualFleet): { summary: ReturnType<VirtualFleet["run"]>; rollouts: RolloutOutcome[] } {
  const sim = attachFleetService(fleet);
  const figures = scheduleScenarioRollouts(fleet, sim);
  const summary = fleet.run();
  rolloutOutcomes(fleet, sim, figures);
  void sim.close();
  return { summary, rollouts: figures };
}

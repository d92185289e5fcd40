/**
 * The story `npm start` tells: 200 virtual devices (real agents) on the in-process virtual
 * broker, the fleet service (registry, rollouts, health rules, dashboard) on the same broker,
 * time fast-forwarded about a simulated day per real minute. A bad release is caught by its canary
 * and halted; a fixed one rolls out in waves; devices with failing batteries are flagged with days
 * to spare; a handful in a bad radio spot are flagged for a repeater; a device that lost power
 * goes offline and comes back. Each event is one narrated line.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { versionString } from "../../device/core/ota/version";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { offsetClock } from "../../service/clock";
import { FleetService } from "../../service/fleet-service";
import type { AlertChange } from "../../service/health/engine";
import { parseRules } from "../../service/health/config";
import { ProactiveSupport } from "../../service/health/module";
import type { RolloutRunner } from "../../service/rollouts/runner";
import { DEFAULTS } from "../../service/rollouts/spec";
import { VirtualFleet } from "./engine";
import { buildFirmwareLibrary, firmwareRequests } from "./images";
import type { FirmwareLibrary } from "./library";
import { parseScenario, type Scenario } from "./scenario";
import { VirtualServiceSession } from "./service-transport";

export const STORY_EPOCH_MS = Date.UTC(2026, 0, 5);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The fleet: most devices at home, a few small batteries, a few in a basement, one power cut. */
export const STORY_SCENARIO = {
  description: "npm start: the fleet service's story",
  devices: 200,
  duration: "3d",
  seed: 2026,
  groups: [
    { name: "home", weight: 186, firmware: "1.0.0", telemetry: { sampleInterval: "5m", reportInterval: "15m" }, keepAlive: "20m", battery: { capacityMah: 2000, startPermille: 800 }, radio: { meanDbm: -62, spreadDbm: 8 } },
    { name: "aging", weight: 8, firmware: "1.0.0", telemetry: { sampleInterval: "5m", reportInterval: "15m" }, keepAlive: "20m", battery: { capacityMah: 300, startPermille: 500, capacityVariationPermille: 200 }, radio: { meanDbm: -62, spreadDbm: 8 } },
    { name: "basement", weight: 6, firmware: "1.0.0", telemetry: { sampleInterval: "5m", reportInterval: "15m" }, keepAlive: "20m", battery: { capacityMah: 2000, startPermille: 800 }, radio: { meanDbm: -93, spreadDbm: 2, dropFor: "3m" } },
  ],
  faults: [{ kind: "power-cut", at: "40h", off: "5h", devices: { group: "home", count: 1 } }],
  ota: [],
};

/** The releases: 1.1.0 crashes at start-up, 1.1.1 is the fix. */
const RELEASES = [
  { at: 10 * HOUR, version: "1.1.0", bad: "crash" as const },
  { at: 22 * HOUR, version: "1.1.1", bad: undefined },
];

export interface StoryOptions {
  /** Where the release bundles go (removed by the caller). */
  dir: string;
  log: (line: string) => void;
  /** Service log lines (rollout internals); silent by default. */
  serviceLog?: (line: string) => void;
}

export class Story {
  readonly scenario: Scenario;
  fleet!: VirtualFleet;
  service!: FleetService;
  proactive!: ProactiveSupport;
  runner!: RolloutRunner;
  private library!: FirmwareLibrary;
  private session!: VirtualServiceSession;
  private released = 0;
  private readonly rolloutSeen = new Map<string, string>();

  constructor(private readonly o: StoryOptions) {
    this.scenario = parseScenario(JSON.stringify(STORY_SCENARIO), "story");
  }

  get simMs(): number {
    return this.fleet.clock.now();
  }

  get endMs(): number {
    return this.scenario.durationMs ?? 3 * DAY;
  }

  now(): number {
    return STORY_EPOCH_MS + this.fleet.clock.now();
  }

  /** Builds the firmware, powers the fleet on, starts the service on the virtual broker. */
  async setup(): Promise<void> {
    this.library = await buildFirmwareLibrary([...firmwareRequests(this.scenario), ...RELEASES.map((r) => ({ version: r.version, bad: r.bad }))], nodeSha256);
    const s = this.scenario;
    this.fleet = new VirtualFleet({ devices: s.devices!, durationMs: this.endMs, seed: s.seed!, scenario: s, library: this.library, sha256: nodeSha256 });
    this.session = new VirtualServiceSession(this.fleet.broker, this.fleet.clock);
    const clock = offsetClock(this.fleet.clock, STORY_EPOCH_MS);
    this.service = new FleetService({ db: ":memory:", clock, transport: this.session.attach(), log: this.o.serviceLog, rollouts: { tickMs: 60_000, healthEveryMs: 15 * 60_000 } });
    this.runner = this.service.rollouts;
    this.proactive = new ProactiveSupport(this.service, parseRules({ evaluateEvery: 15 * 60_000 }), { onAlert: (c) => this.narrateAlert(c) });
    await this.service.use(this.proactive);
    await this.service.start();
    // Cohort labels: the registry's group is what rollouts and cohort rules see.
    for (const d of this.fleet.devices) this.service.db.prepare("INSERT OR IGNORE INTO devices (id, first_seen, last_seen, group_name) VALUES (?, ?, ?, ?)").run(d.id, this.now(), this.now(), d.group.name);
    this.fleet.begin();
    for (const r of RELEASES) this.writeBundle(r.version, r.bad);
  }

  private writeBundle(version: string, bad: "crash" | undefined): void {
    const b = this.library.bundle(version, bad);
    const dir = join(this.o.dir, `bundle-${version}`);
    mkdirSync(dir, { recursive: true });
    const image = new Uint8Array(b.blocks.reduce((a, x) => a + x.length, 0));
    let at = 0;
    for (const x of b.blocks) (image.set(x, at), (at += x.length));
    writeFileSync(join(dir, "image.bin"), image);
    writeFileSync(join(dir, "manifest.cbor"), b.envelope);
  }

  /** Advances simulated time by `ms` (in 1-minute steps, letting the service's promises settle). */
  async advance(ms: number): Promise<void> {
    const end = Math.min(this.endMs, this.simMs + ms);
    while (this.simMs < end) {
      this.fleet.clock.runUntil(Math.min(end, this.simMs + 60_000));
      await new Promise((r) => setImmediate(r));
      this.releases();
      this.narrateRollouts();
    }
  }

  get done(): boolean {
    return this.simMs >= this.endMs;
  }

  private releases(): void {
    while (this.released < RELEASES.length && this.simMs >= RELEASES[this.released].at) {
      const r = RELEASES[this.released++];
      const bundle = join(this.o.dir, `bundle-${r.version}`);
      // The operator cancels the halted release first: its devices are free for the fix.
      for (const old of this.runner.list() as { id: string; status: string; version: number }[]) {
        if (old.status !== "halted" && old.status !== "paused") continue;
        this.runner.command(old.id, "cancel");
        this.line(`rollout ${old.id} (${versionString(old.version)}) cancelled by the operator`);
      }
      try {
        const created = this.runner.create({
          ...DEFAULTS,
          waves: [25, 100],
          canary: 10,
          bundle,
          target: `firmware < ${r.version}`,
          ratePerMinute: 20,
          maxFailurePct: 20,
          minExecuted: 5,
          soakMs: 2 * HOUR,
          timeoutMs: 45 * 60_000,
          // Halts here come from failures (rule a): the health comparison (rule b) counts the update's
          // own reboot as a telemetry gap on a young cohort, so it is left to larger fleets.
          health: { ...DEFAULTS.health, minDevices: 1000 },
        });
        this.line(`release ${r.version}: rollout ${created.id} started for ${created.devices} devices, canary of 10, then 25 %, then everyone`);
      } catch (err) {
        this.line(`release ${r.version}: rollout not started: ${(err as Error).message}`);
      }
    }
  }

  private narrateRollouts(): void {
    for (const r of this.runner.list() as { id: string; status: string; version: number; wave: number; total: number; succeeded: number; failures: number; halt: string | null }[]) {
      const key = `${r.status}/${r.wave}`;
      const before = this.rolloutSeen.get(r.id);
      if (before === key) continue;
      this.rolloutSeen.set(r.id, key);
      const v = versionString(r.version);
      if (before === undefined || r.status === "cancelled") continue; // narrated by releases()
      if (r.status === "halted" || r.status === "paused") {
        const st = this.runner.status(r.id) as { halt: { rule: string; detail: unknown } | null; counts: { executed: number; failures: number } };
        this.line(`rollout ${r.id} (${v}) HALTED by its canary: ${st.halt?.rule ?? r.halt}: ${st.counts.failures} of ${st.counts.executed} executed devices failed and rolled back; pending offers withdrawn`);
      } else if (r.status === "completed") {
        this.line(`rollout ${r.id} (${v}) completed: ${r.succeeded} of ${r.total} devices updated`);
      } else if (r.status === "running") {
        this.line(`rollout ${r.id} (${v}) wave ${r.wave === 1 ? "25 %" : "100 %"} started: ${r.succeeded} devices updated so far`);
      } else this.line(`rollout ${r.id} (${v}) ${r.status}`);
    }
  }

  private narrateAlert(c: AlertChange): void {
    const a = c.alert;
    const opened = c.event === "opened";
    switch (a.rule) {
      case "lowBattery": {
        if (!opened) return this.line(`${a.subject}: battery alert ${c.event}`);
        const spare = a.dueByMs === null ? "" : ` (${((a.dueByMs - this.now()) / DAY).toFixed(1)} days to spare)`;
        return this.line(`${a.subject}: ${a.summary}${spare}`);
      }
      case "poorConnectivity":
        if (opened) this.line(`${a.subject}: ${a.summary}`);
        return;
      case "offline":
        if (opened) this.line(`${a.subject}: offline, ${a.summary}`);
        else if (c.event === "resolved") this.line(`${a.subject}: back online`);
        return;
      case "cohort":
        return this.line(`cohort alert ${c.event}: ${a.summary}`);
    }
  }

  private line(text: string): void {
    const t = new Date(this.now()).toISOString();
    this.o.log(`day ${Math.floor(this.simMs / DAY) + 1} ${t.slice(11, 16)}  ${text}`);
  }

  async close(): Promise<void> {
    await this.service?.close();
    this.session?.close();
  }
}

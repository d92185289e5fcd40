/**
 * A seeded random power-cut campaign: devices in the field, on one boot model, each taking a
 * series of releases (good, crashing at start, or failing their health check) while power is
 * cut at random flash operations (byte-prefix, bit-subset and stuck-bit tears), power is lost
 * at random times during trial boots, and the broker is unreachable for 150 s during some
 * trials. Counts what issue 11 asks about, per model:
 * - violations of the boot-record and trial-record invariants (cut-runner.ts, SPEC.md section 5);
 * - "crashed image booted again": a release rejected by its trial (crash, failed health check)
 *   boots again once the device is back on the previous version (item 1);
 * - "good release rejected": a good release that the device did not end up running (item 2),
 *   and devices that ended on their factory image although a good release was offered;
 * - apart, the documented exceptions of bootloader-spec/SPEC.md section 5: ESP-IDF's torn
 *   ota_state hazard (and the crash loops it causes), good releases rejected as "unknown" (105
 *   cause 6: a cut that may hide a crash), and a crashed build booted again after the three
 *   coincidences SPEC.md names.
 * With `fleetRetry`, the fleet does what service/rollouts does with a 105 cause 6: it offers the
 * same release once more with the retry marker (docs/protocol/ota.md), under the same kinds of
 * cuts (from a random stream of its own, so the counts above stay those of the devices alone),
 * and counts the good releases that recovers and the failing builds it lets boot again.
 * The CI test runs a small fixed-seed campaign; `npm run bench -- powercut` runs the big one.
 */
import { SLOT_PARTITIONS } from "../../bootloader-spec/reference/bootloader";
import { verifySlotImage } from "../../bootloader-spec/reference/image";
import { OtaStore, type StageCode } from "../../device/core/ota/store";
import { OtaResult, TrialCause } from "../../device/core/ota/codes";
import { withRetryMarker } from "../../device/core/ota/manifest";
import type { SlotIndex } from "../../device/ports";
import { bootModel, type BootModelName } from "../../host-sim/boot/boot-models";
import type { Behaviour, BootLog, OtaRig } from "../../host-sim/boot/ota-rig";
import { SimFlash, type FlashFault, type FlashOp } from "../../host-sim/virtual/flash";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { SeededRandom } from "../../host-sim/virtual/random";
import { NvsFlashKv } from "../../host-sim/virtual/nvs-flash";
import { documentedCrashAgain, isHazardCrashLoop, memoVerify, rejectedByTrial, scenarioKv } from "./cut-runner";
import { backendFor, BLOCK, bundle, factory, rig, sha256 } from "./fixtures";

export interface CampaignOptions {
  model: BootModelName;
  seed: number;
  devices: number;
  releasesPerDevice: number;
  /** Chance (per mille) that a flash operation loses power. */
  cutPerOpPermille: number;
  /** Chance (per mille) that a trial boot loses power at a random time before its health check ends. */
  trialLossPermille: number;
  /** Chance (per mille) that a good release's first trial boot finds the broker unreachable for 150 s. */
  outagePermille: number;
  /** Where NVS lives (default "flash": pages on the flash, every entry write tearable; "preference": written as Moddable's preference module does). */
  nvs?: "memory" | "flash" | "preference";
  /** The fleet re-offers a release rejected with cause 6 (unknown) once, with the retry marker. */
  fleetRetry?: boolean;
  /** Prints every boot of this device (debugging a failing run). */
  traceDevice?: number;
}

export interface CampaignCounts {
  model: BootModelName;
  seed: number;
  devices: number;
  updates: number;
  /** Updates that had at least one power cut or power loss. */
  cutRuns: number;
  cuts: number;
  trialPowerLosses: number;
  brokerOutages: number;
  invariantViolations: number;
  crashedImageBootedAgain: number;
  /** Of those, the documented way (SPEC.md section 5: pending note cut, crash, cut at the next boot). */
  crashedAgainDocumented: number;
  goodReleaseRejected: number;
  /** Of those, releases given up after MAX_TRIALS trials that were all cut short (the bounded retry rule allows it). */
  goodReleaseGaveUpAfterInterruptedTrials: number;
  /** Of those, rejected as "unknown" (105 cause 6): a cut where it may hide a crash (SPEC.md section 5). */
  goodReleaseRejectedUnknown: number;
  endedOnFactoryImage: number;
  /** Never settled or nothing boots (includes the hazard's crash loops below). */
  bricked: number;
  /** ESP-IDF hazard, documented: updates in which a torn ota_state (CRC intact) booted with no trial. */
  espIdfHazardRuns: number;
  /** Of those, a build that crashes at start looping for ever on it (counted in `bricked` too). */
  hazardCrashLoops: number;
  /** Releases offered to a device already in such a loop (not run: nothing reaches it any more). */
  offeredToLoopingDevice: number;
  /** With fleetRetry: releases re-offered once with the retry marker after a 105 cause 6. */
  fleetRetries: number;
  /** Of those, good releases that ended up running (out of goodReleaseRejectedUnknown). */
  fleetRetryRecoveredGood: number;
  /** Of those, good releases still not running after the retry. */
  fleetRetryGoodStillRejected: number;
  /** Of those, crashing or unhealthy builds that booted again because of the retry. */
  fleetRetryFailingBootedAgain: number;
  /** Of those, failing builds that the device refused again before they booted (it rejected them anew). */
  fleetRetryFailingRejectedAgain: number;
  /** Retries the device could not lift: the rejection it kept is not cause 6 (or its cause entry was cut), or the lift was used. */
  fleetRetryNotLiftable: number;
  /** A few failing runs, with what it takes to replay them. */
  examples: string[];
}

const OUTAGE_MS = 150_000;
/** Trials a release gets when they are cut short by power or network loss (issue 11 item 2; SPEC.md invariant 4). */
export const MAX_TRIALS = 3;
const MAX_BOOTS = 60;
const IMAGE_SIZE = 2 * BLOCK + 700;

const bundles = new Map<number, ReturnType<typeof backendFor>>();
function release(version: number) {
  let b = bundles.get(version);
  if (!b) bundles.set(version, (b = backendFor(bundle(version, { securityCounter: version, size: IMAGE_SIZE }))));
  return b;
}

/** A factory device of `model` after its first boot, as a template to clone. */
const templates = new Map<BootModelName, { flash: SimFlash; kv: MemoryKv }>();
function fieldDevice(model: BootModelName): { flash: SimFlash; kv: MemoryKv } {
  let t = templates.get(model);
  if (!t) {
    const d = factory(1, undefined, undefined, model);
    if (!bootModel(model).boot(d.flash, sha256).ok) throw new Error("factory device does not boot");
    templates.set(model, (t = { flash: d.flash, kv: d.kv }));
  }
  return { flash: SimFlash.fromImages(t.flash.layout().map(({ name }) => [name, t!.flash.image(name)] as const), { blockSize: t.flash.blockSize }), kv: MemoryKv.load(t.kv.dump()) };
}

function randomCut(rnd: SeededRandom): FlashFault {
  const k = rnd.below(4);
  if (k === 0) return { powerCut: true };
  if (k === 1) return { powerCut: true, tornBytes: rnd.below(4096) };
  if (k === 2) return { powerCut: true, tear: { kind: "bits", permille: rnd.below(1001), seed: rnd.nextU32() } };
  return { powerCut: true, tear: { kind: "stuck", bits: 1 + rnd.below(3), seed: rnd.nextU32() } };
}

export function runCampaign(o: CampaignOptions): CampaignCounts {
  const model = bootModel(o.model);
  const rnd = new SeededRandom(o.seed);
  const c: CampaignCounts = {
    model: o.model,
    seed: o.seed,
    devices: o.devices,
    updates: 0,
    cutRuns: 0,
    cuts: 0,
    trialPowerLosses: 0,
    brokerOutages: 0,
    invariantViolations: 0,
    crashedImageBootedAgain: 0,
    crashedAgainDocumented: 0,
    goodReleaseRejected: 0,
    goodReleaseGaveUpAfterInterruptedTrials: 0,
    goodReleaseRejectedUnknown: 0,
    endedOnFactoryImage: 0,
    bricked: 0,
    espIdfHazardRuns: 0,
    hazardCrashLoops: 0,
    offeredToLoopingDevice: 0,
    fleetRetries: 0,
    fleetRetryRecoveredGood: 0,
    fleetRetryGoodStillRejected: 0,
    fleetRetryFailingBootedAgain: 0,
    fleetRetryFailingRejectedAgain: 0,
    fleetRetryNotLiftable: 0,
    examples: [],
  };
  // The fleet's retries draw from their own stream: the devices' own runs stay the same.
  const retryRnd = new SeededRandom((o.seed ^ 0x5eed) >>> 0);
  // A few examples of each kind (the common kinds must not crowd out the rare ones).
  const perKind = new Map<string, number>();
  const note = (device: number, version: number, what: string, kind: string) => {
    const n = perKind.get(kind) ?? 0;
    if (n >= 4) return;
    perKind.set(kind, n + 1);
    c.examples.push(`${o.model} seed ${o.seed} device ${device} v${version}: ${what}`);
  };

  for (let d = 0; d < o.devices; d++) {
    const dev = fieldDevice(o.model);
    const flash = dev.flash;
    const kv = scenarioKv({ kv: dev.kv, nvs: o.nvs ?? "flash" }, flash);
    const behaviours = new Map<number, Behaviour>([[1, "good"]]);
    let goodOffered = false;
    let lastVersion = 1;
    let looping = false;
    for (let r = 0; r < o.releasesPerDevice; r++) {
      const version = 2 + r;
      const pick = rnd.below(10);
      const behaviour: Behaviour = pick < 6 ? "good" : pick < 8 ? "crash" : "no-health";
      behaviours.set(version, behaviour);
      if (behaviour === "good") goodOffered = true;
      c.updates++;
      if (looping) {
        // The hazard's crash loop never ends: no release can reach this device any more.
        c.offeredToLoopingDevice++;
        continue;
      }
      let cuts = 0;
      const problems: string[] = [];
      const running = new RunningSlotWatch(problems);
      const hazards: number[] = [];
      const stageAtStart: (StageCode | undefined)[] = [];
      flash.fault = (op) => {
        running.check(op);
        if (rnd.below(1000) >= o.cutPerOpPermille) return undefined;
        cuts++;
        return randomCut(rnd);
      };
      const trialBoots = new Set<number>();
      const device = rig(flash, kv, release(version), (v) => behaviours.get(v) ?? "good", {
        options: { verifySignature: memoVerify },
        bootModel: o.model,
        bootBudgetMs: 400_000,
        onAppStart: () => {
          if (kv instanceof NvsFlashKv) kv.load();
          stageAtStart[device.boots.length - 1] = new OtaStore(kv).attempt()?.stage;
        },
        afterBoot: (slot) => {
          running.slot = slot;
          const check = verifySlotImage(flash.open(SLOT_PARTITIONS[slot]), sha256);
          if (!check.ok) problems.push(`booted slot ${slot} fails verification: ${check.reason}`);
          problems.push(...model.recordProblems(flash, slot));
          if (model.recordHazards(flash, slot).length) hazards.push(device.boots.length - 1);
        },
        powerLossAt: (boot) => {
          const b = device.boots[boot];
          if (b.version !== version || trialBoots.size >= 3 || rnd.below(1000) >= o.trialLossPermille) return undefined;
          trialBoots.add(boot);
          cuts++;
          c.trialPowerLosses++;
          return 100 + rnd.below(119_000);
        },
        linkUpAt: (boot) => {
          const b = device.boots[boot];
          if (behaviour !== "good" || b.version !== version || boot !== device.boots.findIndex((x) => x.version === version)) return 500;
          if (rnd.below(1000) >= o.outagePermille) return 500;
          c.brokerOutages++;
          return OUTAGE_MS;
        },
      });
      let final = bootUntilSettled(device, running);
      flash.fault = undefined;
      if (d === o.traceDevice) {
        for (const b of device.boots) console.log(`v${version} ${behaviour}: ${b.end}@v${b.version} slot ${b.slot} ${b.rule} ${b.detail ?? ""} ${b.statuses.map((s) => `${s.result}/${s.version ?? ""}${s.detail ? ` (${s.detail})` : ""}`).join(", ")}`);
      }
      if (cuts > 0) c.cutRuns++;
      c.cuts += cuts;
      if (hazards.length) c.espIdfHazardRuns++;
      // The hazard's crash loop: from a torn-state boot on, the build crashes at start for ever.
      const hazardLoop = !final && hazards.length > 0 && isHazardCrashLoop(device.boots, hazards[0], version);
      if (!final || final.end === "brick") {
        c.bricked++;
        if (hazardLoop) {
          c.hazardCrashLoops++;
          looping = true;
        }
        else problems.push(final ? `bricked: ${final.detail}` : `no steady boot within ${MAX_BOOTS}: ${device.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`);
      } else {
        problems.push(...model.recordProblems(flash, final.slot));
        if (kv instanceof NvsFlashKv) kv.load();
        if (new OtaStore(kv).trial()) problems.push("trial record left behind");
        if (final.version === version && final.slot !== undefined && model.slotState(flash, final.slot) !== "valid") problems.push(`v${version} runs unconfirmed`);
      }
      // Item 1: a release rejected by its trial boots again once the device is back on the previous version.
      const rejectedAt = device.boots.findIndex((b) => b.version === version && rejectedByTrial(b, version));
      const back = rejectedAt < 0 ? -1 : device.boots.findIndex((b, i) => i > rejectedAt && b.version !== undefined && b.version !== version);
      if (back >= 0 && device.boots.slice(back).some((b) => b.version === version)) {
        c.crashedImageBootedAgain++;
        const documented = documentedCrashAgain(device.boots, stageAtStart, rejectedAt);
        if (documented) c.crashedAgainDocumented++;
        note(d, version, `rejected (${behaviour}) and booted again: ${device.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`, documented ? "crashed-again-documented" : "crashed-again");
      }
      // Item 2: a good release must end up running.
      if (behaviour === "good" && final?.version !== version) {
        c.goodReleaseRejected++;
        let kind = "good-rejected";
        if (device.boots.filter((b) => b.version === version).length >= MAX_TRIALS) {
          c.goodReleaseGaveUpAfterInterruptedTrials++;
          kind = "good-rejected-gave-up";
        } else if (device.boots.some((b) => b.statuses.some((st) => st.result === OtaResult.RolledBack && st.version === version && st.cause === TrialCause.Unknown))) {
          c.goodReleaseRejectedUnknown++;
          kind = "good-rejected-unknown";
        }
        note(d, version, `good release not running at the end (on v${final?.version}): ${device.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`, kind);
      }
      if (problems.length) {
        c.invariantViolations++;
        note(d, version, problems.slice(0, 3).join("; "), "violation");
      }
      // The fleet's one retry of an ambiguous rejection (as service/rollouts/machine.ts does it).
      const ambiguous = device.boots.some((b) => b.statuses.some((st) => st.result === OtaResult.RolledBack && st.version === version && st.cause === TrialCause.Unknown));
      if (o.fleetRetry && ambiguous && final && final.end === "steady" && final.version !== version) {
        c.fleetRetries++;
        if (kv instanceof NvsFlashKv) kv.load();
        const kept = new OtaStore(kv).rejection(version);
        if (!new OtaStore(kv).canLift(version)) {
          c.fleetRetryNotLiftable++;
          note(d, version, `fleet retry not liftable: kept ${JSON.stringify(kept)}, rejected ${new OtaStore(kv).isRejected(version)}; ${device.boots.map((b) => `${b.end}@v${b.version} [${b.statuses.filter((st) => st.state === 0 && st.result !== 0).map((st) => `${st.result}/${st.cause ?? ""}`).join(",")}]`).join(" ")}`, "retry-not-liftable");
        }
        const retry = retryOnce(flash, kv, version, behaviours, o, retryRnd, model);
        if (retry.problems.length) {
          c.invariantViolations++;
          note(d, version, `fleet retry: ${retry.problems.slice(0, 3).join("; ")}`, "violation");
        }
        const bootedAgain = retry.boots.some((b) => b.version === version);
        if (behaviour === "good") {
          if (retry.final?.version === version) c.fleetRetryRecoveredGood++;
          else {
            c.fleetRetryGoodStillRejected++;
            note(d, version, `good release still rejected after the fleet retry: ${retry.boots.map((b) => `${b.end}@v${b.version} [${b.statuses.filter((st) => st.state === 0 && st.result !== 0).map((st) => `${st.result}/${st.cause ?? ""}`).join(",")}]`).join(" ")}`, "retry-good-still-rejected");
          }
        } else if (bootedAgain) c.fleetRetryFailingBootedAgain++;
        else c.fleetRetryFailingRejectedAgain++;
        if (retry.final?.version !== undefined) final = retry.final;
      }
      if (final?.version !== undefined) lastVersion = final.version;
    }
    if (goodOffered && lastVersion === 1) c.endedOnFactoryImage++;
  }
  return c;
}

/** The slot the app runs from during one boot: a write or erase to it is a problem. */
class RunningSlotWatch {
  slot: SlotIndex | undefined;
  constructor(private readonly problems: string[]) {}

  check(op: FlashOp): void {
    if (this.slot !== undefined && op.partition === SLOT_PARTITIONS[this.slot] && (op.kind === "write" || op.kind === "erase")) this.problems.push(`op #${op.seq} ${op.kind} hits the running slot`);
  }
}

/** Boots until a boot ends steady or bricked; undefined if none did within MAX_BOOTS. No slot runs between boots. */
function bootUntilSettled(device: OtaRig, running: RunningSlotWatch): BootLog | undefined {
  for (let i = 0; i < MAX_BOOTS; i++) {
    const b = device.bootOnce();
    running.slot = undefined;
    if (b.end === "steady" || b.end === "brick") return b;
  }
  return undefined;
}

/** The same release offered once more with the retry marker, under cuts from `rnd`, until a steady boot. */
function retryOnce(
  flash: SimFlash, kv: ReturnType<typeof scenarioKv>, version: number, behaviours: Map<number, Behaviour>, o: CampaignOptions, rnd: SeededRandom,
  model: ReturnType<typeof bootModel>,
): { boots: BootLog[]; final?: BootLog; problems: string[] } {
  const problems: string[] = [];
  const running = new RunningSlotWatch(problems);
  let trialLosses = 0;
  flash.fault = (op) => {
    running.check(op);
    return rnd.below(1000) < o.cutPerOpPermille ? randomCut(rnd) : undefined;
  };
  const backend = { ...release(version), manifest: withRetryMarker(release(version).manifest!) };
  const device = rig(flash, kv, backend, (v) => behaviours.get(v) ?? "good", {
    options: { verifySignature: memoVerify },
    bootModel: o.model,
    bootBudgetMs: 400_000,
    onAppStart: () => {
      if (kv instanceof NvsFlashKv) kv.load();
    },
    afterBoot: (slot) => {
      running.slot = slot;
      const check = verifySlotImage(flash.open(SLOT_PARTITIONS[slot]), sha256);
      if (!check.ok) problems.push(`booted slot ${slot} fails verification: ${check.reason}`);
    },
    powerLossAt: (boot) => {
      if (device.boots[boot].version !== version || trialLosses >= 3 || rnd.below(1000) >= o.trialLossPermille) return undefined;
      trialLosses++;
      return 100 + rnd.below(119_000);
    },
  });
  const final = bootUntilSettled(device, running);
  flash.fault = undefined;
  if (!final || final.end === "brick") problems.push(final ? `bricked: ${final.detail}` : `no steady boot within ${MAX_BOOTS}`);
  else {
    if (kv instanceof NvsFlashKv) kv.load();
    if (new OtaStore(kv).trial()) problems.push("trial record left behind");
    if (final.version === version && final.slot !== undefined && model.slotState(flash, final.slot) !== "valid") problems.push(`v${version} runs unconfirmed`);
  }
  return { boots: device.boots, final, problems };
}

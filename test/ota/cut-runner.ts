/**
 * The power-cut machinery: a scenario is a starting flash + key-value state, a backend and a
 * boot model; `runWithCuts` replays it with power cut (optionally torn) at chosen flash
 * operations, reboots through the scenario's boot model until the device settles, and checks the
 * invariants of bootloader-spec/SPEC.md at every boot and at the end.
 */
import { SLOT_PARTITIONS, type BootloaderConfig } from "../../bootloader-spec/reference/bootloader";
import { verifySlotImage } from "../../bootloader-spec/reference/image";
import { OtaStore, Stage, type StageCode } from "../../device/core/ota/store";
import { OtaResult } from "../../device/core/ota/codes";
import { DEFAULTS } from "../../device/core/ota/updater";
import { toHex } from "../../device/core/ota/bytes";
import { tweetnaclVerify, type SignatureCheck } from "../../device/core/ota/ed25519";
import { SimFlash, type FlashOp, type Tear } from "../../host-sim/virtual/flash";
import { bootModel, type BootModelName } from "../../host-sim/boot/boot-models";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { NvsFlashKv } from "../../host-sim/virtual/nvs-flash";
import { PreferenceNvsKv } from "../../host-sim/virtual/preference-nvs";
import type { Behaviour, BootLog, RigConfig } from "../../host-sim/boot/ota-rig";
import { rig, sha256 } from "./fixtures";
import type { SlotIndex } from "../../device/ports";

/**
 * The real tweetnacl check, remembered per (signature, message): thousands of reboots offer the
 * same manifest, and its signature check (6 ms on Node) is not what this suite is about.
 */
const verified = new Map<string, boolean>();
export const memoVerify: SignatureCheck = (m, sig, pk) => {
  const key = `${toHex(sig)}:${toHex(pk)}:${toHex(m)}`;
  let ok = verified.get(key);
  if (ok === undefined) verified.set(key, (ok = tweetnaclVerify(m, sig, pk)));
  return ok;
};

export interface Scenario {
  name: string;
  flash: SimFlash;
  kv: MemoryKv;
  backend: RigConfig["backend"];
  behaviour: (v: number) => Behaviour;
  from: number;
  to: number;
  bootloader?: BootloaderConfig;
  /** The boot model the device runs (default "reference"). */
  model?: BootModelName;
  /**
   * Where the key-value store lives: "memory" (atomic entries, each write one cut point) or
   * "flash" (NVS pages on the flash's storage partition: every entry write can be torn), or
   * "preference" (the same, written as Moddable's preference module does: erase, then set).
   */
  nvs?: "memory" | "flash" | "preference";
}

/** A power cut at flash operation `seq`: a byte-prefix tear (`tornBytes`) or any Tear. */
export interface Cut {
  seq: number;
  tornBytes?: number;
  tear?: Tear;
}

export interface CutRun {
  ops: FlashOp[];
  /** The boot (index into `boots`) each op happened in, by op seq. */
  opBoot: number[];
  /** The attempt-record writes, in order: the boot and the last op seq each took (their commit point or before). */
  attemptWrites: { boot: number; lastSeq: number; stage: StageCode | undefined }[];
  /** The attempt record's stage as each booted app found it (undefined: none). */
  stageAtStart: (StageCode | undefined)[];
  final: BootLog;
  boots: BootLog[];
  /**
   * "crash-loop": ESP-IDF's documented hazard ran its course — a torn ota_state (CRC intact)
   * booted a build that crashes at start with no trial, and it crashes for ever (see `hazards`).
   */
  outcome: "updated" | "rolled-back" | "crash-loop";
  violations: string[];
  /** ESP-IDF hazard boots (BootModel.recordHazards): counted apart, never a violation by themselves. */
  hazards: string[];
  /**
   * A rejected build booted again in the one way SPEC.md section 5 documents: its first trial
   * boot found the attempt still "staged" (the pending note lost to a cut), it crashed, and the
   * very next boot lost power too (the abort or the verdict with it). Not counted as a violation.
   */
  documented: string[];
}

/** The scenario's key-value store on this run's flash: NVS pages on it, or atomic entries beside it. */
export function scenarioKv(sc: Pick<Scenario, "kv" | "nvs">, flash: SimFlash): MemoryKv | NvsFlashKv {
  if (sc.nvs === "flash" || sc.nvs === "preference") {
    const kv = sc.nvs === "flash" ? new NvsFlashKv(flash.open("storage")) : new PreferenceNvsKv(flash.open("storage"));
    for (const [k, v] of sc.kv.dump()) kv.set(k, v);
    return kv;
  }
  const kv = MemoryKv.load(sc.kv.dump());
  // NVS lives on the same chip: every key-value write is a cut point too (atomic per entry).
  kv.beforeWrite = (kind, key, length) => flash.nvsOp(kind, key, length);
  return kv;
}

export function cloneFlash(f: SimFlash): SimFlash {
  return SimFlash.fromImages(f.layout().map(({ name }) => [name, f.image(name)] as const), { blockSize: f.blockSize });
}

/** The violation text for invariant 4 (the bench counts it as "crashed image booted again"). */
export const CRASHED_AGAIN = "was rejected by its trial (crash or failed health check) and booted again after the rollback";

/**
 * The boot of `version` ended its trial for a reason that must reject it: a crash, or the app's
 * own rollback (it reported RolledBack and restarted). A trial that ended by power loss is not a
 * rejection, whatever the app had said before the power went (SPEC.md invariant 4).
 */
export function rejectedByTrial(b: BootLog, version: number): boolean {
  return b.end === "crash" || (b.end === "restart" && b.statuses.some((s) => s.result === OtaResult.RolledBack && s.version === version));
}

export function runWithCuts(sc: Scenario, cuts: Cut[], maxBoots = 40): CutRun {
  const flash = cloneFlash(sc.flash);
  const kv = scenarioKv(sc, flash);
  const ops: FlashOp[] = [];
  const opBoot: number[] = [];
  const violations: string[] = [];
  const hazards: string[] = [];
  const documented: string[] = [];
  const stageAtStart: (StageCode | undefined)[] = [];
  const attemptWrites: CutRun["attemptWrites"] = [];
  const bootNo = () => r.boots.length - 1;
  const setKv = kv.set.bind(kv);
  kv.set = (key: string, value: Uint8Array) => {
    setKv(key, value);
    if (key === ATTEMPT_KEY) attemptWrites.push({ boot: bootNo(), lastSeq: ops.at(-1)?.seq ?? -1, stage: new OtaStore(kv).attempt()?.stage });
  };
  let running: SlotIndex | undefined;
  const model = bootModel(sc.model);
  const plan = new Map(cuts.map((c) => [c.seq, c]));
  flash.fault = (op) => {
    ops.push(op);
    opBoot.push(bootNo());
    if (running !== undefined && op.partition === SLOT_PARTITIONS[running] && (op.kind === "write" || op.kind === "erase")) violations.push(`op #${op.seq} ${op.kind} hits the running slot ${running}`);
    const cut = plan.get(op.seq);
    return cut === undefined ? undefined : { powerCut: true, tornBytes: cut.tornBytes ?? 0, tear: cut.tear };
  };
  const r = rig(flash, kv, sc.backend, sc.behaviour, {
    options: { verifySignature: memoVerify },
    bootloader: sc.bootloader,
    bootModel: model.name,
    onAppStart: () => {
      if (kv instanceof NvsFlashKv) kv.load();
      stageAtStart[bootNo()] = new OtaStore(kv).attempt()?.stage;
    },
    afterBoot: (slot) => {
      running = slot;
      const check = verifySlotImage(flash.open(SLOT_PARTITIONS[slot]), sha256);
      if (!check.ok) violations.push(`booted slot ${slot} fails verification: ${check.reason}`);
      violations.push(...model.recordProblems(flash, slot));
      hazards.push(...model.recordHazards(flash, slot).map((h) => `boot ${bootNo()}: ${h}`));
    },
  });
  const wrap = (f: () => BootLog) => {
    const b = f();
    running = undefined;
    return b;
  };
  // Boots until steady; `running` is cleared between boots (the bootloader may write anything).
  let final: BootLog | undefined;
  for (let i = 0; i < maxBoots && !final; i++) {
    const b = wrap(() => r.bootOnce());
    if (b.end === "brick") violations.push(`bricked: ${b.detail}`);
    if (b.end === "steady" || b.end === "brick") final = b;
  }
  if (!final) {
    final = r.boots.at(-1)!;
    // ESP-IDF's hazard: from a torn-state boot on, the build crashes at start for ever (no trial).
    const from = hazards.length ? Number(/^boot (\d+)/.exec(hazards[0])![1]) : -1;
    if (from >= 0 && r.boots.slice(from).every((b) => b.end === "crash" && b.version === sc.to)) {
      const extra = wrap(() => r.bootOnce());
      if (extra.end !== "crash" || extra.version !== sc.to) violations.push(`crash loop ended: ${extra.end} v${extra.version}`);
      return { ops, opBoot, attemptWrites, stageAtStart, final, boots: r.boots, outcome: "crash-loop", violations, hazards, documented };
    }
    violations.push(`no steady boot within ${maxBoots}: ${r.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`);
  }
  // The settled state, checked on the flash and key-value store as they are now.
  violations.push(...model.recordProblems(flash, final.slot));
  if (kv instanceof NvsFlashKv) kv.load();
  const store = new OtaStore(kv);
  if (store.trial()) violations.push("trial record left behind");
  let outcome: CutRun["outcome"] = "updated";
  if (final.version === sc.to) {
    const state = final.slot === undefined ? "none" : model.slotState(flash, final.slot);
    if (state !== "valid") violations.push(`updated image not confirmed (state ${state})`);
  } else if (final.version === sc.from) {
    outcome = "rolled-back";
    if (!store.isRejected(sc.to)) violations.push(`back on v${sc.from} but v${sc.to} is not remembered as rejected`);
  } else {
    violations.push(`settled on unexpected version ${final.version}`);
  }
  // Invariant 4: once the new version was rejected by its trial (it crashed, or failed its health
  // check and the app rolled it back) and the device is back on the old one, it never boots again.
  // (A trial cut short by power loss is not a rejection: retrying it is right.)
  const rejectedAt = r.boots.findIndex((b) => b.version === sc.to && rejectedByTrial(b, sc.to));
  const backOnFrom = rejectedAt < 0 ? -1 : r.boots.findIndex((b, i) => i > rejectedAt && b.version === sc.from);
  if (backOnFrom >= 0 && r.boots.slice(backOnFrom).some((b) => b.version === sc.to)) {
    if (documentedCrashAgain(r.boots, stageAtStart, rejectedAt)) documented.push(`v${sc.to} crashed at boot ${rejectedAt} with the attempt still staged and power lost at the next boot: booted again (documented)`);
    else violations.push(`v${sc.to} ${CRASHED_AGAIN}`);
  }
  // A trial cut short by power or network loss is installed again, but at most DEFAULTS.maxTrials times in all.
  const installs = r.boots.filter((b, i) => b.version === sc.from && b.end === "restart" && r.boots[i + 1]?.version === sc.to).length;
  if (installs > DEFAULTS.maxTrials) violations.push(`v${sc.to} installed ${installs} times (at most ${DEFAULTS.maxTrials})`);
  // One more boot changes nothing: no flash operation, same version.
  const before = ops.length;
  plan.clear();
  const extra = wrap(() => r.bootOnce());
  if (extra.version !== final.version || extra.end !== "steady") violations.push(`extra boot: ${extra.end} v${extra.version}`);
  if (ops.length !== before) violations.push(`extra boot wrote flash ${ops.length - before} times`);
  return { ops, opBoot, attemptWrites, stageAtStart, final, boots: r.boots, outcome, violations, hazards, documented };
}

/** The NVS key of the attempt record (device/core/ota/store.ts). */
const ATTEMPT_KEY = "ota.trial";

/**
 * SPEC.md section 5's one documented way a crashed build boots again: at the boot where it
 * crashed the attempt read "staged" (setPending had landed but the pending note was cut), and
 * the boot right after the crash lost power (its abort rewrite or the old image's verdict with it).
 */
export function documentedCrashAgain(boots: BootLog[], stageAtStart: (StageCode | undefined)[], crashedAt: number): boolean {
  return boots[crashedAt]?.end === "crash" && stageAtStart[crashedAt] === Stage.Staged && boots[crashedAt + 1]?.end === "power-cut";
}

/**
 * ESP-IDF's torn-`ota_state` crash loop (SPEC.md section 6): from the boot whose records showed the
 * hazard on, the build runs without a trial and never gets through a boot. Its boots end in a crash,
 * or in a power cut the campaign injected into one of them (a cut cannot end the loop: the next
 * boot runs the same build again); at least one must be a crash, or nothing ever failed.
 */
export function isHazardCrashLoop(boots: BootLog[], hazardAt: number, version: number): boolean {
  const after = boots.slice(hazardAt);
  return after.some((b) => b.end === "crash") && after.every((b) => (b.end === "crash" || b.end === "power-cut") && b.version === version);
}

/**
 * The documented window where a cut can hide a crash (SPEC.md section 5): the trial boot's
 * operations from its bootloader's NEW → PENDING_VERIFY rewrite up to the commit of the trial
 * image's first note that its agent ran. A cut there rejects a good release (105, cause 6).
 * From a clean run: the op seqs of that window.
 */
export function hideCrashWindow(clean: CutRun, to: number): Set<number> {
  const trialBoot = clean.boots.findIndex((b) => b.version === to);
  const note = clean.attemptWrites.find((w) => w.boot === trialBoot && w.stage === Stage.Trial);
  const out = new Set<number>();
  if (trialBoot < 0 || !note) return out;
  clean.ops.forEach((op, i) => {
    if (clean.opBoot[i] === trialBoot && op.seq <= note.lastSeq) out.add(op.seq);
  });
  return out;
}

/**
 * The cut variants for one operation: a clean cut, byte-prefix tears (1 byte, half, all but one
 * for writes), a random half of the bit transitions, and all but one stuck bit (NVS entries
 * are atomic).
 */
export function variants(op: FlashOp): Omit<Cut, "seq">[] {
  if (op.kind === "nvs-set" || op.kind === "nvs-delete") return [{ tornBytes: 0 }];
  const set = new Set<number>([0, op.length >> 1]);
  if (op.kind === "write") {
    set.add(1);
    set.add(op.length - 1);
  }
  const prefixes = [...set].filter((t) => t >= 0 && t < op.length).sort((a, b) => a - b);
  return [...prefixes.map((tornBytes) => ({ tornBytes })), { tear: { kind: "bits", permille: 500 } }, { tear: { kind: "stuck", bits: 1 } }];
}

export function describeCut(c: Omit<Cut, "seq">): string {
  if (!c.tear) return `torn ${c.tornBytes ?? 0}`;
  return c.tear.kind === "prefix" ? `torn ${c.tear.bytes}` : c.tear.kind === "bits" ? `bits ${c.tear.permille}‰` : `stuck ${c.tear.bits}`;
}

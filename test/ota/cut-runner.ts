/**
 * The power-cut machinery: a scenario is a starting flash + key-value state and a backend;
 * `runWithCuts` replays it with power cut (optionally torn) at chosen flash operations,
 * reboots through the reference bootloader until the device settles, and checks the
 * invariants of bootloader-spec/SPEC.md at every boot and at the end.
 */
import { SLOT_PARTITIONS, type BootloaderConfig } from "../../bootloader-spec/reference/bootloader";
import { verifySlotImage } from "../../bootloader-spec/reference/image";
import { readRecords, SlotStateCode as S } from "../../bootloader-spec/reference/record";
import { OtaStore } from "../../device/core/ota/store";
import { DEFAULTS } from "../../device/core/ota/updater";
import { toHex } from "../../device/core/ota/bytes";
import { tweetnaclVerify, type SignatureCheck } from "../../device/core/ota/ed25519";
import { SimFlash, type FlashOp } from "../../host-sim/virtual/flash";
import { MemoryKv } from "../../host-sim/virtual/kv";
import type { Behaviour, BootLog, RigConfig } from "../../host-sim/boot/ota-rig";
import { rig, sha256 } from "./fixtures";
import type { SlotIndex } from "../../device/ports";

/**
 * The real tweetnacl check, remembered per (signature, message): thousands of reboots offer the
 * same manifest, and its signature check (6 ms on Node) is not what this suite is about.
 */
const verified = new Map<string, boolean>();
const memoVerify: SignatureCheck = (m, sig, pk) => {
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
}

export interface Cut {
  seq: number;
  tornBytes: number;
}

export interface CutRun {
  ops: FlashOp[];
  final: BootLog;
  boots: BootLog[];
  outcome: "updated" | "rolled-back";
  violations: string[];
}

function cloneFlash(f: SimFlash): SimFlash {
  return SimFlash.fromImages(f.layout().map(({ name }) => [name, f.image(name)] as const), { blockSize: f.blockSize });
}

/** Checks the boot-record invariants; returns problems found. */
export function recordProblems(flash: SimFlash, bootedSlot?: SlotIndex): string[] {
  const out: string[] = [];
  const r = readRecords(flash.open("otadata"));
  if (!r.latest) return ["no valid boot record copy"];
  const [a, b] = r.copies;
  if (a && b && Math.abs(a.seq - b.seq) !== 1) out.push(`record copies out of step: seq ${a.seq} and ${b.seq}`);
  if (bootedSlot !== undefined) {
    if (r.latest.bootSlot !== bootedSlot) out.push(`record selects slot ${r.latest.bootSlot} but slot ${bootedSlot} booted`);
    const st = r.latest.states[bootedSlot];
    if (st !== S.Valid && st !== S.PendingVerify) out.push(`booted slot ${bootedSlot} has state ${st}`);
  }
  return out;
}

export function runWithCuts(sc: Scenario, cuts: Cut[], maxBoots = 40): CutRun {
  const flash = cloneFlash(sc.flash);
  const kv = MemoryKv.load(sc.kv.dump());
  // NVS lives on the same chip: every key-value write is a cut point too (atomic per entry).
  kv.beforeWrite = (kind, key, length) => flash.nvsOp(kind, key, length);
  const ops: FlashOp[] = [];
  const violations: string[] = [];
  let running: SlotIndex | undefined;
  const plan = new Map(cuts.map((c) => [c.seq, c.tornBytes]));
  flash.fault = (op) => {
    ops.push(op);
    if (running !== undefined && op.partition === SLOT_PARTITIONS[running] && (op.kind === "write" || op.kind === "erase")) violations.push(`op #${op.seq} ${op.kind} hits the running slot ${running}`);
    const torn = plan.get(op.seq);
    return torn === undefined ? undefined : { powerCut: true, tornBytes: torn };
  };
  const r = rig(flash, kv, sc.backend, sc.behaviour, {
    options: { verifySignature: memoVerify },
    bootloader: sc.bootloader,
    afterBoot: (slot) => {
      running = slot;
      const check = verifySlotImage(flash.open(SLOT_PARTITIONS[slot]), sha256);
      if (!check.ok) violations.push(`booted slot ${slot} fails verification: ${check.reason}`);
      violations.push(...recordProblems(flash, slot));
    },
  });
  const wrap = (f: () => BootLog) => {
    const b = f();
    running = undefined;
    return b;
  };
  // Boots until steady; `running` is cleared between boots (the bootloader may write anything).
  let final: BootLog | undefined;
  const store = new OtaStore(kv);
  /** Index of the first boot on the old image with `to` remembered as rejected. */
  let rejectedAt = -1;
  for (let i = 0; i < maxBoots && !final; i++) {
    const b = wrap(() => r.bootOnce());
    // Back on the old image with the new version rejected (a trial that rejected itself may still boot again before its rollback lands).
    if (rejectedAt < 0 && b.version === sc.from && store.isRejected(sc.to)) rejectedAt = i;
    if (b.end === "brick") violations.push(`bricked: ${b.detail}`);
    if (b.end === "steady" || b.end === "brick") final = b;
  }
  if (!final) {
    violations.push(`no steady boot within ${maxBoots}: ${r.boots.map((b) => `${b.end}@v${b.version}`).join(" ")}`);
    final = r.boots.at(-1)!;
  }
  // The settled state, checked on the flash and key-value store as they are now.
  violations.push(...recordProblems(flash, final.slot));
  if (store.trial()) violations.push("trial record left behind");
  let outcome: CutRun["outcome"] = "updated";
  if (final.version === sc.to) {
    const rec = readRecords(flash.open("otadata")).latest!;
    if (rec.states[final.slot!] !== S.Valid) violations.push(`updated image not confirmed (state ${rec.states[final.slot!]})`);
  } else if (final.version === sc.from) {
    outcome = "rolled-back";
    if (!store.isRejected(sc.to)) violations.push(`back on v${sc.from} but v${sc.to} is not remembered as rejected`);
  } else {
    violations.push(`settled on unexpected version ${final.version}`);
  }
  // A version remembered as rejected never boots again (SPEC invariant 4). A trial cut short by
  // power loss may be installed again, but at most DEFAULTS.maxTrials times in all.
  if (rejectedAt >= 0 && r.boots.slice(rejectedAt + 1).some((b) => b.version === sc.to)) violations.push(`v${sc.to} booted again after it was rejected`);
  const installs = r.boots.filter((b, i) => b.version === sc.from && b.end === "restart" && r.boots[i + 1]?.version === sc.to).length;
  if (installs > DEFAULTS.maxTrials) violations.push(`v${sc.to} installed ${installs} times (at most ${DEFAULTS.maxTrials})`);
  // One more boot changes nothing: no flash operation, same version.
  const before = ops.length;
  plan.clear();
  const extra = wrap(() => r.bootOnce());
  if (extra.version !== final.version || extra.end !== "steady") violations.push(`extra boot: ${extra.end} v${extra.version}`);
  if (ops.length !== before) violations.push(`extra boot wrote flash ${ops.length - before} times`);
  return { ops, final, boots: r.boots, outcome, violations };
}

/** The cut variants for one operation: a clean cut plus torn writes/erases (NVS entries are atomic). */
export function variants(op: FlashOp): number[] {
  if (op.kind === "nvs-set" || op.kind === "nvs-delete") return [0];
  const set = new Set<number>([0, op.length >> 1]);
  if (op.kind === "write") {
    set.add(1);
    set.add(op.length - 1);
  }
  return [...set].filter((t) => t >= 0 && t < op.length).sort((a, b) => a - b);
}

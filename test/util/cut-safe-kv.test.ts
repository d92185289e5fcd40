/**
 * A power cut at every flash op of an overwrite or delete, on the KV as the board writes it
 * (PreferenceNvsKv: Moddable's preference module erases the key, then sets it): every store the
 * agent overwrites in place reads its old or its new value after the reboot, never nothing, and
 * the sequence counter never hands out a number twice.
 */
import { describe, expect, it } from "vitest";
import { PowerCut, SimFlash, type FlashFault } from "../../host-sim/virtual/flash";
import { PreferenceNvsKv } from "../../host-sim/virtual/preference-nvs";
import type { FlashPartition, KeyValueStore } from "../../device/ports";
import { deleteCutSafe, readCutSafe, shadowKeyOf, writeCutSafe } from "../../device/core/util/cut-safe-kv";
import { OtaStore, Stage, type AttemptRecord } from "../../device/core/ota/store";
import { SequenceCounter, SEQ_KEY, SEQ_WINDOW } from "../../device/core/sequence";
import { loadTelemetryConfig, saveTelemetryConfig } from "../../device/core/config/telemetry-config";
import { Outbox } from "../../device/core/link/outbox";

const layout = [{ name: "storage" as const, size: 8 * 4096 }];
const noLog = () => {};

interface Board {
  flash: SimFlash;
  part: FlashPartition;
  kv: KeyValueStore;
}

function board(): Board {
  const flash = new SimFlash(layout);
  const part = flash.open("storage");
  return { flash, part, kv: new PreferenceNvsKv(part) };
}

/** Power back on after a cut: a new NVS instance reads the pages again. */
function reboot(b: Board): Board {
  b.flash.fault = undefined;
  b.flash.powerOn();
  return { ...b, kv: new PreferenceNvsKv(b.part) };
}

/** Flash ops `op` makes after `setup`, on a fresh board. */
function opsOf(setup: (kv: KeyValueStore) => void, op: (kv: KeyValueStore) => void): number {
  const b = board();
  setup(b.kv);
  const start = b.flash.opCount;
  op(b.kv);
  return b.flash.opCount - start;
}

/**
 * Runs `op` once per flash op it makes, cutting the power at that op (nothing of it done, or
 * half of it written), then once with no cut; `check` sees the store after the reboot.
 */
function cutEverywhere(setup: (kv: KeyValueStore) => void, op: (kv: KeyValueStore) => void, check: (kv: KeyValueStore, where: string) => void): number {
  const n = opsOf(setup, op);
  expect(n).toBeGreaterThan(0);
  const tears: (FlashFault & object)[] = [{ powerCut: true }, { powerCut: true, tear: { kind: "prefix", bytes: 16 } }];
  for (let i = 0; i <= n; i++) {
    for (const tear of i < n ? tears : [undefined]) {
      const b = board();
      setup(b.kv);
      const at = b.flash.opCount + i;
      b.flash.fault = (o) => (o.seq === at ? tear : undefined);
      try {
        op(b.kv);
      } catch (e) {
        if (!(e instanceof PowerCut)) throw e;
      }
      check(reboot(b).kv, `cut at op ${i} of ${n}${tear && "tear" in tear ? " (torn)" : ""}`);
    }
  }
  return n;
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const first = (v: Uint8Array | undefined) => v?.[0];

describe("cut-safe overwrite (util/cut-safe-kv.ts) on erase-then-set NVS", () => {
  it("the plain set of the board loses the key at a cut (the defect)", () => {
    let lost = 0;
    cutEverywhere(
      (kv) => kv.set("k", bytes(20, 1)),
      (kv) => kv.set("k", bytes(20, 2)),
      (kv) => void (kv.get("k") === undefined && lost++),
    );
    expect(lost).toBeGreaterThan(0);
  });

  it("an overwrite reads old or new at every cut; the shadow is gone afterwards", () => {
    cutEverywhere(
      (kv) => writeCutSafe(kv, "k", bytes(20, 1)),
      (kv) => writeCutSafe(kv, "k", bytes(20, 2)),
      (kv, where) => expect([1, 2], where).toContain(first(readCutSafe(kv, "k"))),
    );
    const b = board();
    writeCutSafe(b.kv, "k", bytes(20, 1));
    writeCutSafe(b.kv, "k", bytes(20, 2));
    expect(b.kv.keys()).toEqual(["k"]);
    expect(first(b.kv.get("k"))).toBe(2); // an older image reads the plain key
  });

  it("a first write is not shadowed (a cut leaves it missing, its old state) and an older image's plain key is overwritten safely", () => {
    let missing = 0;
    cutEverywhere(
      () => {},
      (kv) => writeCutSafe(kv, "k", bytes(20, 2)),
      (kv, where) => {
        expect(kv.keys().filter((k) => k.startsWith("~")), where).toEqual([]);
        const v = first(readCutSafe(kv, "k"));
        expect([undefined, 2], where).toContain(v);
        if (v === undefined) missing++;
      },
    );
    expect(missing).toBeGreaterThan(0);
    cutEverywhere(
      (kv) => kv.set("k", bytes(20, 1)), // written by an older image: plain only
      (kv) => writeCutSafe(kv, "k", bytes(20, 2)),
      (kv, where) => expect([1, 2], where).toContain(first(readCutSafe(kv, "k"))),
    );
  });

  it("after a cut inside an overwrite (plain key missing, shadow holds the value), the next overwrite and a delete are safe too", () => {
    // The state a cut between the plain key's erase and its write leaves.
    const interrupted = (kv: KeyValueStore) => kv.set(shadowKeyOf("k"), bytes(20, 1));
    cutEverywhere(
      interrupted,
      (kv) => writeCutSafe(kv, "k", bytes(20, 2)),
      (kv, where) => expect([1, 2], where).toContain(first(readCutSafe(kv, "k"))),
    );
    cutEverywhere(
      interrupted,
      (kv) => deleteCutSafe(kv, "k"),
      (kv, where) => expect([1, undefined], where).toContain(first(readCutSafe(kv, "k"))),
    );
  });

  it("the plain key is erased only once the shadow reads back (a shadow programmed over a torn entry's leftovers)", () => {
    // "k" takes entries 0 and 1; entry 2, where the shadow goes, holds a torn program's leftovers
    // with its first word still erased (as in test/ota/store-readback.test.ts): NVS reports the
    // shadow's write done, and drops the item at its next lookup.
    const dirty = () => {
      const b = board();
      b.kv.set("k", bytes(20, 1));
      b.part.write(64 + 2 * 32 + 4, new Uint8Array([0x00, 0x00]));
      return b;
    };
    const probe = dirty();
    const start = probe.flash.opCount;
    writeCutSafe(probe.kv, "k", bytes(20, 2));
    const n = probe.flash.opCount - start;
    for (let i = 0; i <= n; i++) {
      const b = dirty();
      const at = b.flash.opCount + i;
      b.flash.fault = (o) => (o.seq === at ? { powerCut: true } : undefined);
      try {
        writeCutSafe(b.kv, "k", bytes(20, 2));
      } catch (e) {
        if (!(e instanceof PowerCut)) throw e;
      }
      expect([1, 2], `cut at op ${i} of ${n}`).toContain(first(readCutSafe(reboot(b).kv, "k")));
    }
  });

  it("a delete never brings an older value back", () => {
    // A shadow older than the plain key (left by an older image's rewrite) must go first.
    cutEverywhere(
      (kv) => {
        kv.set(shadowKeyOf("k"), bytes(20, 1));
        kv.set("k", bytes(20, 2));
      },
      (kv) => deleteCutSafe(kv, "k"),
      (kv, where) => expect([2, undefined], where).toContain(first(readCutSafe(kv, "k"))),
    );
  });
});

describe("the stores the agent overwrites in place, cut at every op", () => {
  const attempt = (stage: number): AttemptRecord => ({ version: 7, slot: 1, securityCounter: 3, seqBefore: 40, stage: stage as AttemptRecord["stage"], attempts: 1, offer: new Uint8Array(0) });

  it("OtaStore: the attempt record, its clearing, the rejections and their causes, the counter, the running record", () => {
    const base = (kv: KeyValueStore) => {
      const s = new OtaStore(kv);
      s.raiseSecurityCounter(3);
      s.reject(4, 1, 6);
      s.setAttempt(attempt(Stage.Staged));
      s.setRunning({ slot: 0, version: 5, codeVersion: 5 });
    };
    const stages = (kv: KeyValueStore) => new OtaStore(kv).attempt()?.stage;
    cutEverywhere(base, (kv) => new OtaStore(kv).setAttempt(attempt(Stage.Trial)), (kv, w) => expect([Stage.Staged, Stage.Trial], w).toContain(stages(kv)));
    cutEverywhere(base, (kv) => new OtaStore(kv).clearAttempt(), (kv, w) => expect([Stage.Staged, undefined], w).toContain(stages(kv)));
    cutEverywhere(base, (kv) => new OtaStore(kv).raiseSecurityCounter(9), (kv, w) => expect([3, 9], w).toContain(new OtaStore(kv).securityCounter()));
    cutEverywhere(
      base,
      (kv) => new OtaStore(kv).setRunning({ slot: 1, version: 7, codeVersion: 7 }),
      (kv, w) => expect([5, 7], w).toContain(new OtaStore(kv).running()?.version),
    );
    cutEverywhere(
      base,
      (kv) => new OtaStore(kv).reject(8, 1, 6),
      (kv, w) => {
        const s = new OtaStore(kv);
        expect([[4], [4, 8]], w).toContainEqual(s.rejected());
        expect([6], w).toContain(s.rejection(4)?.cause); // ota.rjc: the older entry survives
      },
    );
    cutEverywhere(
      (kv) => {
        base(kv);
        new OtaStore(kv).reject(8, 1, 6);
      },
      (kv) => new OtaStore(kv).lift(8),
      (kv, w) => {
        const s = new OtaStore(kv);
        expect([0, 1], w).toContain(s.rejection(8)?.lifts);
        expect(s.isRejected(8) || s.rejection(8)?.lifts === 1, w).toBe(true); // never un-rejected without the lift counted
      },
    );
  });

  it("SequenceCounter: never hands out a number twice across a cut at any op, nor across a second cut after the first", () => {
    const handed: number[] = [];
    const setup = (kv: KeyValueStore) => {
      handed.length = 0;
      const c = new SequenceCounter(kv);
      for (let i = 0; i < SEQ_WINDOW * 2; i++) handed.push(c.take());
    };
    // The take that reserves the next window (an overwrite of seq.next).
    const reserve = (kv: KeyValueStore) => {
      const c = new SequenceCounter(kv);
      for (let i = 0; i < SEQ_WINDOW; i++) handed.push(c.take());
    };
    const noRepeat = (kv: KeyValueStore, where: string) => {
      const seen = new Set(handed);
      expect(seen.size, where).toBe(handed.length);
      const next = new SequenceCounter(kv).peek();
      expect(next, where).toBeGreaterThan(Math.max(...handed));
    };
    const mostOps = cutEverywhere(setup, reserve, noRepeat);
    expect(mostOps).toBeGreaterThan(2);
    // A second cut, in the first reservation after the reboot that followed a cut at each op.
    const cutAt = (b: Board, i: number) => {
      const at = b.flash.opCount + i;
      b.flash.fault = (o) => (o.seq === at ? { powerCut: true } : undefined);
      try {
        reserve(b.kv);
      } catch (e) {
        if (!(e instanceof PowerCut)) throw e;
      }
      return reboot(b);
    };
    const afterFirstCut = (i: number) => {
      const b = board();
      setup(b.kv);
      return cutAt(b, i);
    };
    for (let i = 0; i < mostOps; i++) {
      const probe = afterFirstCut(i);
      const start = probe.flash.opCount;
      reserve(probe.kv);
      const m = probe.flash.opCount - start;
      for (let j = 0; j < m; j++) noRepeat(cutAt(afterFirstCut(i), j).kv, `first cut at op ${i}, second at op ${j} of ${m}`);
    }
  });

  it("SequenceCounter: an older image after a rollback reads the plain key, which holds the latest reservation", () => {
    const b = board();
    const c = new SequenceCounter(b.kv);
    for (let i = 0; i < SEQ_WINDOW * 3 + 1; i++) c.take();
    const plain = b.kv.get(SEQ_KEY)!;
    expect(new DataView(plain.buffer, plain.byteOffset).getUint32(4)).toBe(SEQ_WINDOW * 4);
  });

  it("the telemetry config (tcfg): old or new after a cut in its save", () => {
    const defaults = { reportIntervalMs: 60_000, sampleIntervalMs: 10_000 };
    cutEverywhere(
      (kv) => saveTelemetryConfig(kv, { reportIntervalMs: 120_000, sampleIntervalMs: 20_000 }),
      (kv) => saveTelemetryConfig(kv, { reportIntervalMs: 300_000, sampleIntervalMs: 30_000 }),
      (kv, w) => expect([120_000, 300_000], w).toContain(loadTelemetryConfig(kv, defaults).reportIntervalMs),
    );
  });

  it("the outbox's dropped count (obd) never goes back at a cut in a drop", () => {
    const fill = (kv: KeyValueStore) => {
      const o = new Outbox(kv, noLog, 1);
      o.push("t", bytes(10, 1));
      o.push("t", bytes(10, 2)); // drops the first: obd = 1
      expect(o.dropped).toBe(1);
    };
    cutEverywhere(
      fill,
      (kv) => new Outbox(kv, noLog, 1).push("t", bytes(10, 3)), // drops the second: obd = 2
      (kv, w) => expect([1, 2], w).toContain(new Outbox(kv, noLog, 1).dropped),
    );
  });
});

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/temp";
import { FlashError } from "../../device/ports";
import { openFileFlash } from "../../host-sim/file-flash";
import { PowerCut, ProgramWithoutErase, SimFlash, type FlashOp, type Tear } from "../../host-sim/virtual/flash";

const layout = [
  { name: "ota_0" as const, size: 8192 },
  { name: "storage" as const, size: 4096 },
];

describe("SimFlash NOR semantics", () => {
  it("starts erased, writes AND bits, and erase restores 0xFF for a whole block", () => {
    const p = new SimFlash(layout).open("ota_0");
    expect([...p.read(0, 4)]).toEqual([0xff, 0xff, 0xff, 0xff]);
    p.write(0, new Uint8Array([0xf0, 0x0f]));
    p.write(0, new Uint8Array([0x30, 0x0f])); // only clears bits: allowed without an erase
    expect([...p.read(0, 2)]).toEqual([0x30, 0x0f]);
    p.eraseBlock(0);
    expect([...p.read(0, 2)]).toEqual([0xff, 0xff]);
    expect(p.blockSize).toBe(4096);
    expect(p.size).toBe(8192);
  });

  it("rejects out-of-range access and unknown partitions with FlashError", () => {
    const f = new SimFlash(layout);
    const p = f.open("storage");
    expect(() => p.read(4090, 10)).toThrowError(FlashError);
    expect(() => p.write(-1, new Uint8Array(1))).toThrowError(/range/);
    expect(() => p.eraseBlock(1)).toThrowError(/no block 1/);
    expect(() => f.open("otadata")).toThrowError(/no partition/);
  });

  it("a power cut tears a write after tornBytes, then the flash is dead until powerOn", () => {
    const ops: FlashOp[] = [];
    const f = new SimFlash(layout, {
      fault: (op) => {
        ops.push(op);
        return op.seq === 1 ? { powerCut: true, tornBytes: 2 } : undefined;
      },
    });
    const p = f.open("ota_0");
    p.write(0, new Uint8Array([1, 1, 1, 1]));
    expect(() => p.write(4, new Uint8Array([2, 2, 2, 2]))).toThrowError(PowerCut);
    expect([...p.read(4, 4)]).toEqual([2, 2, 0xff, 0xff]);
    expect(() => p.write(8, new Uint8Array([3]))).toThrowError(PowerCut);
    expect(f.poweredOff).toBe(true);
    f.powerOn();
    p.write(8, new Uint8Array([3]));
    expect(ops.map((o) => `${o.seq}:${o.kind}:${o.offset}`)).toEqual(["0:write:0", "1:write:4", "2:write:8"]);
  });

  it("a power cut during erase leaves the block partly erased and the rest part-way to 0xFF", () => {
    const run = () => {
      const f = new SimFlash(layout, { fault: (op) => (op.kind === "erase" ? { powerCut: true, tornBytes: 100 } : undefined) });
      const p = f.open("storage");
      p.write(0, new Uint8Array(4096).fill(0x0f));
      expect(() => p.eraseBlock(0)).toThrowError(PowerCut);
      return p.read(0, 4096);
    };
    const bytes = run();
    expect([...bytes.subarray(0, 100)].every((b) => b === 0xff)).toBe(true);
    const rest = [...bytes.subarray(100)];
    // Erasing only sets bits: every byte keeps the old bits, some gained more, none is fully erased by luck alone.
    expect(rest.every((b) => (b & 0x0f) === 0x0f)).toBe(true);
    expect(rest.some((b) => b !== 0x0f)).toBe(true);
    expect(rest.some((b) => b === 0x0f)).toBe(true);
    // The same cut gives the same bytes: runs replay.
    expect(run()).toEqual(bytes);
  });

  it("an injected I/O error changes nothing and leaves the flash usable", () => {
    let fail = true;
    const f = new SimFlash(layout, { fault: () => (fail ? { error: "io" } : undefined) });
    const p = f.open("storage");
    expect(() => p.write(0, new Uint8Array([0]))).toThrowError(/write failed/);
    expect(p.read(0, 1)[0]).toBe(0xff);
    fail = false;
    p.write(0, new Uint8Array([0]));
    expect(p.read(0, 1)[0]).toBe(0);
  });

  it("fromImages restores exact contents (a reboot)", () => {
    const f = new SimFlash(layout);
    f.open("storage").write(10, new Uint8Array([7, 8]));
    const g = SimFlash.fromImages(f.layout().map((l) => [l.name, f.image(l.name)]));
    expect([...g.open("storage").read(10, 2)]).toEqual([7, 8]);
  });
});

describe("file-backed flash", () => {
  it("persists every write and erase across reopen", () => {
    const dir = tempDir("tether-flash-");
    const f = openFileFlash(dir, layout);
    f.open("ota_0").write(4100, new Uint8Array([0x12, 0x34]));
    f.open("storage").write(0, new Uint8Array([0]));
    f.open("storage").eraseBlock(0);
    const g = openFileFlash(dir, layout);
    expect([...g.open("ota_0").read(4100, 2)]).toEqual([0x12, 0x34]);
    expect(g.open("storage").read(0, 1)[0]).toBe(0xff);
    expect(() => openFileFlash(dir, [{ name: "ota_0", size: 4096 }])).toThrowError(/layout says 4096/);
  });
});

describe("SimFlash fidelity: what real NOR does and refuses", () => {
  const cutWith = (tear: Tear, kind: "write" | "erase", before: number, data: number) => {
    const f = new SimFlash(layout, { fault: (op) => (op.seq === 1 ? { powerCut: true, tear } : undefined) });
    const p = f.open("storage");
    p.write(0, new Uint8Array(256).fill(before)); // op 0
    if (kind === "write") expect(() => p.write(0, new Uint8Array(256).fill(data))).toThrow(PowerCut);
    else expect(() => p.eraseBlock(0)).toThrow(PowerCut);
    return p.read(0, 256);
  };

  it("a program that needs a 0 -> 1 transition without an erase is flagged, and changes nothing", () => {
    const f = new SimFlash(layout);
    const p = f.open("storage");
    p.write(0, new Uint8Array([0x0f]));
    expect(() => p.write(0, new Uint8Array([0xf0]))).toThrow(ProgramWithoutErase);
    expect(() => p.write(0, new Uint8Array([0xff]))).toThrow(/0 -> 1/);
    expect(p.read(0, 1)[0]).toBe(0x0f);
    expect(f.opCount).toBe(1);
  });

  it("a torn program leaves a random subset of its 1 -> 0 transitions, never anything else, the same for the same seed", () => {
    const bytes = cutWith({ kind: "bits", permille: 500, seed: 3 }, "write", 0xf3, 0x30);
    // Every byte lies between old (0xf3) and intended (0x30): bits outside old & ~new never move.
    for (const b of bytes) expect((b & 0x30) === 0x30 && (b | 0xf3) === 0xf3).toBe(true);
    expect(new Set(bytes).size).toBeGreaterThan(3); // not a byte prefix: bits land independently
    expect(bytes.some((b) => b === 0x30) && bytes.some((b) => b !== 0x30)).toBe(true);
    expect(cutWith({ kind: "bits", permille: 500, seed: 3 }, "write", 0xf3, 0x30)).toEqual(bytes);
    expect(cutWith({ kind: "bits", permille: 500, seed: 4 }, "write", 0xf3, 0x30)).not.toEqual(bytes);
  });

  it("stuck bits: a program or erase that completes all but N cells", () => {
    const w = cutWith({ kind: "stuck", bits: 3 }, "write", 0xff, 0x00);
    expect(w.reduce((n, b) => n + popcount(b), 0)).toBe(3);
    const e = cutWith({ kind: "stuck", bits: 5 }, "erase", 0x00, 0);
    expect(e.reduce((n, b) => n + 8 - popcount(b), 0)).toBe(5);
  });

  it("a torn erase with a bit subset only sets bits (0 -> 1), some of them", () => {
    const bytes = cutWith({ kind: "bits", permille: 300, seed: 1 }, "erase", 0x0f, 0);
    for (const b of bytes) expect(b & 0x0f).toBe(0x0f);
    expect(bytes.some((b) => b !== 0x0f) && bytes.some((b) => b !== 0xff)).toBe(true);
  });

  it("read faults fail reads with FlashError('io') where the hook says, and nothing else", () => {
    const f = new SimFlash(layout);
    f.open("storage").write(0, new Uint8Array([1, 2]));
    f.readFault = (r) => (r.partition === "storage" && r.offset === 0 ? { error: "io" } : undefined);
    expect(() => f.open("storage").read(0, 2)).toThrow(FlashError);
    expect(() => f.open("storage").read(0, 2)).toThrow(/read failed/);
    expect([...f.open("storage").read(1, 1)]).toEqual([2]);
    f.readFault = undefined;
    expect([...f.open("storage").read(0, 2)]).toEqual([1, 2]);
  });
});

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}

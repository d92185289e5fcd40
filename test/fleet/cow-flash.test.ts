/**
 * The fleet's copy-on-write flash behaves exactly like SimFlash (differential, random op
 * sequences incl. NVS entry writes, power cuts, torn writes and erases: same results, same ops
 * seen by the fault hook, same bytes), and clones never see each other's writes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FlashError, type PartitionName } from "../../device/ports";
import { CowFlash } from "../../host-sim/fleet/cow-flash";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "../../host-sim/layout";
import { PowerCut, ProgramWithoutErase, SimFlash, type FlashFault, type Tear } from "../../host-sim/virtual/flash";
import { testSeed } from "../helpers/seed";

const BS = 64;
const LAYOUT = [
  { name: "ota_0" as PartitionName, size: 4 * BS },
  { name: "otadata" as PartitionName, size: 2 * BS },
];
const SEED = testSeed(31_337);

type Cut = number | Tear | undefined;
type Op =
  | { kind: "write"; part: number; offset: number; data: number[]; cut: Cut }
  | { kind: "erase"; part: number; block: number; cut: Cut }
  | { kind: "nvs"; key: string; cut: number | undefined };

function tearArb(max: number): fc.Arbitrary<number | Tear> {
  return fc.oneof(
    fc.integer({ min: 0, max }),
    fc.record({ kind: fc.constant("bits" as const), permille: fc.integer({ min: 0, max: 1000 }), seed: fc.nat() }),
    fc.record({ kind: fc.constant("stuck" as const), bits: fc.integer({ min: 1, max: 4 }), seed: fc.nat() }),
  );
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    part: fc.integer({ min: 0, max: 1 }),
    offset: fc.integer({ min: 0, max: 4 * BS }),
    data: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 2 * BS }),
    cut: fc.option(tearArb(2 * BS), { nil: undefined, freq: 5 }),
  }),
  fc.record({
    kind: fc.constant("erase" as const),
    part: fc.integer({ min: 0, max: 1 }),
    block: fc.integer({ min: 0, max: 4 }),
    cut: fc.option(tearArb(BS), { nil: undefined, freq: 5 }),
  }),
  fc.record({
    kind: fc.constant("nvs" as const),
    key: fc.constantFrom("seq.next", "q.meta"),
    cut: fc.option(fc.constant(0), { nil: undefined, freq: 3 }),
  }),
);

function apply(flash: SimFlash | CowFlash, op: Op): string {
  const fault: FlashFault = op.cut === undefined ? undefined : typeof op.cut === "number" ? { powerCut: true, tornBytes: op.cut } : { powerCut: true, tear: op.cut };
  const seen: string[] = [];
  flash.fault = (o) => (seen.push(`${o.seq}:${o.kind}:${o.partition}:${o.key ?? o.offset}`), fault);
  try {
    if (op.kind === "nvs") flash.nvsOp("nvs-set", op.key, 4);
    else if (op.kind === "write") flash.open(LAYOUT[op.part].name).write(op.offset, new Uint8Array(op.data));
    else flash.open(LAYOUT[op.part].name).eraseBlock(op.block);
  } catch (e) {
    if (e instanceof PowerCut) {
      flash.powerOn();
      return `cut ${seen.join(",")}`;
    }
    if (e instanceof FlashError) return `${e.code} ${seen.join(",")}`;
    if (e instanceof ProgramWithoutErase) return `0->1 ${seen.join(",")}`;
    throw e;
  }
  return `ok ${seen.join(",")}`;
}

describe("CowFlash", () => {
  it(`matches SimFlash op for op (SEED=${SEED})`, () => {
    try {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
          const ref = new SimFlash(LAYOUT, { blockSize: BS });
          const cow = CowFlash.blank(LAYOUT, BS).clone();
          for (const op of ops) expect(apply(cow, op)).toBe(apply(ref, op));
          for (const { name } of LAYOUT) expect(cow.image(name)).toEqual(ref.image(name));
        }),
        { seed: SEED, numRuns: 200 },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\nreplay: SEED=${SEED} npx vitest run test/fleet/cow-flash.test.ts`);
    }
  });

  it("clones share blocks until written and never see each other's writes", () => {
    const template = CowFlash.blank(LAYOUT, BS);
    template.open("ota_0").write(0, new Uint8Array(BS).fill(0x0f));
    const a = template.clone();
    const b = template.clone();
    expect(a.ownedBytes()).toBe(0);
    a.open("ota_0").write(1, new Uint8Array([0x01]));
    expect(a.ownedBytes()).toBe(BS);
    expect(b.ownedBytes()).toBe(0);
    expect(a.open("ota_0").read(0, 3)).toEqual(new Uint8Array([0x0f, 0x01, 0x0f]));
    expect(b.open("ota_0").read(0, 3)).toEqual(new Uint8Array([0x0f, 0x0f, 0x0f]));
    expect(template.open("ota_0").read(0, 3)).toEqual(new Uint8Array([0x0f, 0x0f, 0x0f]));
    // Writing the template after cloning does not leak into the clones either.
    template.open("ota_0").write(2, new Uint8Array([0x00]));
    expect(b.open("ota_0").read(2, 1)).toEqual(new Uint8Array([0x0f]));
    // An erase gives the memory back.
    a.open("ota_0").eraseBlock(0);
    expect(a.ownedBytes()).toBe(0);
    expect(a.open("ota_0").read(0, 2)).toEqual(new Uint8Array([0xff, 0xff]));
  });

  it("an unwritten clone of a 4 MB flash holds no per-block list (an idle fleet device costs well under 2 KB of flash state)", () => {
    // The old layout copied ~1,000 block references per clone (about 8 KB on 64-bit V8).
    const template = CowFlash.blank(ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE);
    template.open("ota_0").write(0, new Uint8Array([0x5a]));
    const clones: CowFlash[] = [template.clone()];
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 4000; i++) clones.push(template.clone());
    const perClone = (process.memoryUsage().heapUsed - before) / 4000;
    expect(perClone).toBeLessThan(2048);
    // Still a working flash: a write lands in one clone only.
    clones[1].open("ota_0").write(1, new Uint8Array([0x00]));
    expect(clones[1].open("ota_0").read(0, 2)).toEqual(new Uint8Array([0x5a, 0x00]));
    expect(clones[2].open("ota_0").read(0, 2)).toEqual(new Uint8Array([0x5a, 0xff]));
    expect(clones[1].ownedBytes()).toBe(FLASH_BLOCK_SIZE);
  });
});

/**
 * Simulated NOR flash with fault injection.
 *
 * Semantics match SPI NOR on ESP32: erase sets a whole block to 0xFF; a write can only clear
 * bits, so the stored byte becomes old & new. A write that needs a bit to go from 0 back to 1
 * (old & new !== new: a program without the erase it needs) is a caller bug and throws
 * ProgramWithoutErase. Every write and erase passes a fault hook first, which may cut power
 * (tearing the operation) or fail it with an I/O error; every read passes a read-fault hook.
 * A power cut throws PowerCut; the simulator catches it at the device boundary and reboots the
 * device on the same flash contents, exactly as a board would find them.
 *
 * How a cut operation leaves its bytes (Tear): a byte prefix; a random subset of the bit
 * transitions it was making (a NOR page program or sector erase interrupted part-way moves
 * cells independently, not byte by byte); or everything but a few stuck bits. A program only
 * ever makes 1 → 0 transitions and an erase only 0 → 1, so a torn result always lies between
 * the old and the intended bytes.
 */
import { FlashError, type Flash, type FlashPartition, type PartitionName } from "../../device/ports";

export const DEFAULT_BLOCK_SIZE = 4096;
const ERASED = 0xff;

export interface FlashOp {
  /** 0-based count of write/erase operations on this flash, across partitions. */
  seq: number;
  /** "nvs-set"/"nvs-delete": a key-value entry written to the NVS area of the same chip. */
  kind: "write" | "erase" | "nvs-set" | "nvs-delete";
  partition: PartitionName | "nvs";
  offset: number;
  length: number;
  /** The key, for NVS operations. */
  key?: string;
}

/**
 * What an interrupted operation leaves, as a subset of the transitions it was making:
 * - prefix: the first `bytes` bytes done (an erase: the rest with some bits already towards 1);
 * - bits: each transition done with probability permille/1000 (a subset of the intended
 *   1 → 0 program transitions, or of the erase's 0 → 1 ones);
 * - stuck: every transition done but `bits` of them (cells that did not make it in time).
 * The random choices come from `seed` and the operation number, so a run replays.
 */
export type Tear = { kind: "prefix"; bytes: number } | { kind: "bits"; permille: number; seed?: number } | { kind: "stuck"; bits: number; seed?: number };

export type FlashFault =
  | undefined
  /** Power fails during the op, leaving it torn as `tear` says (`tornBytes: n` is a prefix tear; default: nothing done). */
  | { powerCut: true; tornBytes?: number; tear?: Tear }
  | { error: "io" };

export type CutFault = Extract<FlashFault, { powerCut: true }>;

/** A read of flash (read faults: a failing SPI read, an ECC error on the board). */
export interface FlashRead {
  partition: PartitionName;
  offset: number;
  length: number;
}
export type FlashReadFaultHook = (read: FlashRead) => { error: "io" } | undefined;

/** A write that needs a 0 → 1 transition: only an erase can do that, so the caller forgot one. */
export class ProgramWithoutErase extends Error {
  constructor(readonly partition: string, readonly offset: number) {
    super(`flash: program at ${partition}+${offset} needs a 0 -> 1 transition without an erase`);
    this.name = "ProgramWithoutErase";
  }
}

export type FlashFaultHook = (op: FlashOp) => FlashFault;

export class PowerCut extends Error {
  /** Core never swallows it (device/ports.ts isHalt). */
  readonly halt = true;
  constructor(readonly op: FlashOp) {
    super(`power cut during flash ${op.kind} #${op.seq} (${op.key ?? `${op.partition}+${op.offset}`}, ${op.length} bytes)`);
    this.name = "PowerCut";
  }
}

export interface PartitionLayout {
  name: PartitionName;
  size: number;
}

/**
 * What every simulated flash shares, whatever holds its bytes (this file's SimFlash, the fleet's
 * copy-on-write flash): operation numbering, the fault hook, power cuts and NVS cut points.
 */
export abstract class FlashChip {
  fault: FlashFaultHook | undefined;
  /** Fails reads with FlashError("io") where it says so. */
  readFault: FlashReadFaultHook | undefined;
  /** Write, erase and NVS operations so far. */
  opCount = 0;
  /** Once a power cut happened, every further op throws until the device reboots. */
  private dead = false;

  /** Power is back: the device may use the flash again (contents are whatever survived). */
  powerOn(): void {
    this.dead = false;
  }

  get poweredOff(): boolean {
    return this.dead;
  }

  /**
   * A key-value entry written to NVS, which on ESP32 lives on this same chip: a power-cut point
   * like any flash write. NVS commits an entry atomically, so a cut here means the entry was
   * not written (the caller applies it only when this returns). See MemoryKv.beforeWrite.
   */
  nvsOp(kind: "nvs-set" | "nvs-delete", key: string, length: number): void {
    const { op, fault } = this.beginOp(kind, "nvs", 0, length, key);
    if (fault) this.cut(op);
  }

  /** @internal Runs the fault hook; returns the fault to apply. */
  beginOp(kind: FlashOp["kind"], partition: FlashOp["partition"], offset: number, length: number, key?: string): { op: FlashOp; fault: CutFault | undefined } {
    if (this.dead) throw new PowerCut({ seq: this.opCount, kind, partition, offset, length, key });
    const op: FlashOp = { seq: this.opCount++, kind, partition, offset, length };
    if (key !== undefined) op.key = key;
    const fault = this.fault?.(op);
    if (fault && "error" in fault) throw new FlashError("io", `flash: ${kind} failed at ${partition}+${offset}`);
    return { op, fault };
  }

  /** @internal Runs the read-fault hook. */
  checkRead(partition: PartitionName, offset: number, length: number): void {
    if (this.readFault?.({ partition, offset, length })) throw new FlashError("io", `flash: read failed at ${partition}+${offset} (${length} bytes)`);
  }

  /** @internal */
  cut(op: FlashOp): never {
    this.dead = true;
    throw new PowerCut(op);
  }
}

/** Seeded xorshift32 for tears: the same operation and seed give the same bits. */
function tearRandom(seq: number, seed = 0): () => number {
  let x = (Math.imul(seq + 1, 0x9e3779b1) ^ Math.imul(seed + 0x51ed27, 0x85ebca6b)) | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Throws ProgramWithoutErase when writing `data` over `old` needs a 0 → 1 transition. */
export function checkProgram(partition: string, offset: number, old: Uint8Array, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) if ((old[i] & data[i]) !== data[i]) throw new ProgramWithoutErase(partition, offset + i);
}

/**
 * The bytes a program leaves over `old`: old & data when complete, else only the 1 → 0
 * transitions the tear let through.
 */
export function programResult(old: Uint8Array, data: Uint8Array, fault: CutFault | undefined, seq: number): Uint8Array {
  const out = old.slice();
  const tear: Tear | undefined = fault ? (fault.tear ?? { kind: "prefix", bytes: fault.tornBytes ?? 0 }) : undefined;
  const clears = (i: number) => old[i] & ~data[i] & 0xff;
  if (!tear) {
    for (let i = 0; i < data.length; i++) out[i] &= data[i];
  } else if (tear.kind === "prefix") {
    for (let i = 0; i < Math.min(tear.bytes, data.length); i++) out[i] &= data[i];
  } else if (tear.kind === "bits") {
    const rnd = tearRandom(seq, tear.seed);
    for (let i = 0; i < data.length; i++) out[i] &= ~(clears(i) & bitSubset(rnd, tear.permille)) & 0xff;
  } else {
    for (let i = 0; i < data.length; i++) out[i] &= data[i];
    unflip(out, (i) => clears(i), tear.bits, tearRandom(seq, tear.seed), (i, bit) => (out[i] |= bit));
  }
  return out;
}

/** The block an erase leaves over `old`: all 0xFF when complete, else only the 0 → 1 transitions the tear let through. */
export function eraseResult(old: Uint8Array, fault: CutFault | undefined, seq: number): Uint8Array {
  const out = old.slice();
  const tear: Tear | undefined = fault ? (fault.tear ?? { kind: "prefix", bytes: fault.tornBytes ?? 0 }) : undefined;
  const sets = (i: number) => ~old[i] & 0xff;
  if (!tear) {
    out.fill(ERASED);
  } else if (tear.kind === "prefix") {
    const n = Math.min(tear.bytes, out.length);
    out.fill(ERASED, 0, n);
    tornEraseNoise(out, n, out.length, seq);
  } else if (tear.kind === "bits") {
    const rnd = tearRandom(seq, tear.seed);
    for (let i = 0; i < out.length; i++) out[i] |= sets(i) & bitSubset(rnd, tear.permille);
  } else {
    out.fill(ERASED);
    unflip(out, sets, tear.bits, tearRandom(seq, tear.seed), (i, bit) => (out[i] &= ~bit));
  }
  return out;
}

/** A byte mask with each bit set with probability permille/1000. */
function bitSubset(rnd: () => number, permille: number): number {
  let m = 0;
  for (let b = 0; b < 8; b++) if (rnd() % 1000 < permille) m |= 1 << b;
  return m;
}

/** Undoes `count` of the transitions `wanted(i)` marks, picked at random (stuck cells). */
function unflip(out: Uint8Array, wanted: (i: number) => number, count: number, rnd: () => number, undo: (i: number, bit: number) => void): void {
  const cells: [number, number][] = [];
  for (let i = 0; i < out.length; i++) {
    const w = wanted(i);
    if (w) for (let b = 0; b < 8; b++) if (w & (1 << b)) cells.push([i, 1 << b]);
  }
  for (let k = 0; k < count && cells.length > 0; k++) {
    const j = rnd() % cells.length;
    undo(cells[j][0], cells[j][1]);
    cells[j] = cells[cells.length - 1];
    cells.pop();
  }
}

/**
 * An interrupted NOR erase: bytes [from, to) of `block` get some bits already flipped towards 1
 * (old | noise), the same noise for the same operation number, so runs replay.
 */
export function tornEraseNoise(block: Uint8Array, from: number, to: number, seq: number): void {
  let x = (seq * 0x9e3779b1 + 1) | 0;
  for (let i = from; i < to; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] |= x & (x >>> 8) & 0xff; // ~1 bit in 4 already set
  }
}

/** Throws FlashError("range") unless [offset, offset+length) lies inside a partition of `size`. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new FlashError("range", `flash: ${name} range ${offset}+${length} outside 0..${size}`);
  }
}

export class SimFlash extends FlashChip implements Flash {
  readonly blockSize: number;
  /** Called after each completed write or erase (file-backed flash persists the range here). */
  afterOp: ((op: FlashOp, bytes: Uint8Array) => void) | undefined;
  private readonly parts = new Map<PartitionName, Uint8Array>();

  constructor(layout: PartitionLayout[], options: { blockSize?: number; fault?: FlashFaultHook } = {}) {
    super();
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.fault = options.fault;
    for (const { name, size } of layout) {
      if (size % this.blockSize !== 0) throw new FlashError("range", `partition ${name}: size ${size} is not a multiple of ${this.blockSize}`);
      this.parts.set(name, new Uint8Array(size).fill(ERASED));
    }
  }

  /** Restores a flash from raw partition images (a reboot, or state loaded from disk). */
  static fromImages(images: Iterable<[PartitionName, Uint8Array]>, options: { blockSize?: number; fault?: FlashFaultHook } = {}): SimFlash {
    const list = [...images];
    const flash = new SimFlash(list.map(([name, bytes]) => ({ name, size: bytes.length })), options);
    for (const [name, bytes] of list) flash.parts.get(name)!.set(bytes);
    return flash;
  }

  open(name: PartitionName): FlashPartition {
    const bytes = this.parts.get(name);
    if (bytes === undefined) throw new FlashError("absent", `flash: no partition "${name}"`);
    return new SimPartition(this, name, bytes);
  }

  /** A copy of a partition's raw bytes. */
  image(name: PartitionName): Uint8Array {
    const bytes = this.parts.get(name);
    if (bytes === undefined) throw new FlashError("absent", `flash: no partition "${name}"`);
    return bytes.slice();
  }

  layout(): PartitionLayout[] {
    return [...this.parts].map(([name, b]) => ({ name, size: b.length }));
  }
}

class SimPartition implements FlashPartition {
  readonly size: number;
  readonly blockSize: number;

  constructor(
    private readonly flash: SimFlash,
    readonly name: PartitionName,
    private readonly bytes: Uint8Array,
  ) {
    this.size = bytes.length;
    this.blockSize = flash.blockSize;
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    this.flash.checkRead(this.name, offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    const old = this.bytes.subarray(offset, offset + data.length);
    checkProgram(this.name, offset, old, data);
    const { op, fault } = this.flash.beginOp("write", this.name, offset, data.length);
    this.bytes.set(programResult(old, data, fault, op.seq), offset);
    if (fault) {
      // What landed before the cut is on the flash (file-backed flash saves it too).
      this.flash.afterOp?.(op, this.bytes);
      this.flash.cut(op);
    }
    this.flash.afterOp?.(op, this.bytes);
  }

  eraseBlock(index: number): void {
    const blocks = this.size / this.blockSize;
    if (!Number.isInteger(index) || index < 0 || index >= blocks) {
      throw new FlashError("range", `flash: ${this.name} has no block ${index} (0..${blocks - 1})`);
    }
    const start = index * this.blockSize;
    const { op, fault } = this.flash.beginOp("erase", this.name, start, this.blockSize);
    this.bytes.set(eraseResult(this.bytes.subarray(start, start + this.blockSize), fault, op.seq), start);
    if (fault) {
      this.flash.afterOp?.(op, this.bytes);
      this.flash.cut(op);
    }
    this.flash.afterOp?.(op, this.bytes);
  }

  private checkRange(offset: number, length: number): void {
    checkRange(this.name, this.size, offset, length);
  }
}

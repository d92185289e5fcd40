/**
 * Simulated NOR flash with fault injection.
 *
 * Semantics match SPI NOR on ESP32: erase sets a whole block to 0xFF; a write can only clear
 * bits, so the stored byte becomes old & new. Every write and erase passes a fault hook first,
 * which may cut power (optionally tearing the operation) or fail it with an I/O error. A power
 * cut throws PowerCut; the simulator catches it at the device boundary and reboots the device
 * on the same flash contents, exactly as a board would find them.
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

export type FlashFault =
  | undefined
  /** Power fails during the op. A write lands only its first `tornBytes` bytes (default 0);
   * an erase leaves the block half-erased: the first `tornBytes` bytes erased, the rest with
   * some bits already flipped towards 1 (old | noise), as an interrupted NOR erase does. */
  | { powerCut: true; tornBytes?: number }
  | { error: "io" };

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
  beginOp(kind: FlashOp["kind"], partition: FlashOp["partition"], offset: number, length: number, key?: string): { op: FlashOp; fault: { powerCut: true; tornBytes?: number } | undefined } {
    if (this.dead) throw new PowerCut({ seq: this.opCount, kind, partition, offset, length, key });
    const op: FlashOp = { seq: this.opCount++, kind, partition, offset, length };
    if (key !== undefined) op.key = key;
    const fault = this.fault?.(op);
    if (fault && "error" in fault) throw new FlashError("io", `flash: ${kind} failed at ${partition}+${offset}`);
    return { op, fault };
  }

  /** @internal */
  cut(op: FlashOp): never {
    this.dead = true;
    throw new PowerCut(op);
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
    return this.bytes.slice(offset, offset + length);
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    const { op, fault } = this.flash.beginOp("write", this.name, offset, data.length);
    const landed = fault ? Math.min(fault.tornBytes ?? 0, data.length) : data.length;
    for (let i = 0; i < landed; i++) this.bytes[offset + i] &= data[i];
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
    const erased = fault ? Math.min(fault.tornBytes ?? 0, this.blockSize) : this.blockSize;
    this.bytes.fill(ERASED, start, start + erased);
    if (fault) {
      tornEraseNoise(this.bytes, start + erased, start + this.blockSize, op.seq);
      this.flash.afterOp?.(op, this.bytes);
      this.flash.cut(op);
    }
    this.flash.afterOp?.(op, this.bytes);
  }

  private checkRange(offset: number, length: number): void {
    checkRange(this.name, this.size, offset, length);
  }
}

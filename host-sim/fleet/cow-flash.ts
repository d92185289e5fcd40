/**
 * Copy-on-write simulated NOR flash for fleets. A 4 MB SimFlash per device would need 40 GB
 * for 10,000 devices; here every block is a reference to a shared array (the factory image,
 * or the one all-0xFF block) until the device writes it, and only then gets its own copy.
 * Same semantics and fault hook as host-sim/virtual/flash.ts (erase → 0xFF, write ANDs bits,
 * torn writes and erases, NVS entry writes as cut points, PowerCut, FlashError("io")), so the
 * reference bootloader, OTA and the key-value store see no difference.
 * Node-free.
 */
import { FlashError, type Flash, type FlashPartition, type PartitionName, type Sha256 } from "../../device/ports";
import { verifySlotImage, type SlotCheck } from "../../bootloader-spec/reference/image";
import { FlashChip, checkProgram, checkRange, eraseResult, programResult, type PartitionLayout } from "../virtual/flash";
import { provision } from "../boot/provision";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "../layout";

const ERASED = 0xff;

/**
 * One partition: a shared block list nobody changes once shared, plus the blocks this flash
 * changed. An idle device has changed none, so it costs a few fields, not a list of ~1,000 block
 * references per device (about 8 KB each at 10,000 devices).
 */
class Blocks {
  /**
   * Index → block, for the blocks that differ from `base`: a copy this flash owns alone (written
   * in place), or the shared erased block. Created at the first write or erase.
   */
  changed: Map<number, Uint8Array> | undefined = undefined;
  constructor(public base: readonly Uint8Array[]) {}

  get count(): number {
    return this.base.length;
  }

  at(i: number): Uint8Array {
    return this.changed?.get(i) ?? this.base[i];
  }

  /** The whole list as it reads now (a new array when some block changed). */
  list(): readonly Uint8Array[] {
    const changed = this.changed;
    if (changed === undefined || changed.size === 0) return this.base;
    const out = this.base.slice();
    for (const [i, b] of changed) out[i] = b;
    return out;
  }
}

export class CowFlash extends FlashChip implements Flash {
  private readonly parts = new Map<PartitionName, Blocks>();

  private constructor(
    readonly blockSize: number,
    private readonly erased: Uint8Array,
  ) {
    super();
  }

  /** A blank flash with `layout`; every block is the shared erased block until written. */
  static blank(layout: PartitionLayout[], blockSize: number): CowFlash {
    const erased = new Uint8Array(blockSize).fill(ERASED);
    const f = new CowFlash(blockSize, erased);
    for (const { name, size } of layout) {
      if (size % blockSize !== 0) throw new FlashError("range", `partition ${name}: size ${size} is not a multiple of ${blockSize}`);
      f.parts.set(name, new Blocks(new Array<Uint8Array>(size / blockSize).fill(erased)));
    }
    return f;
  }

  /**
   * A device's own flash starting with this one's contents, sharing every block. Both sides
   * lose ownership, so neither can change what the other reads.
   */
  clone(): CowFlash {
    const f = new CowFlash(this.blockSize, this.erased);
    for (const [name, p] of this.parts) {
      // This flash's own blocks become shared: it no longer owns any, so it copies before writing.
      p.base = p.list();
      p.changed = undefined;
      f.parts.set(name, new Blocks(p.base));
    }
    return f;
  }

  open(name: PartitionName): FlashPartition {
    const p = this.parts.get(name);
    if (p === undefined) throw new FlashError("absent", `flash: no partition "${name}"`);
    return new CowPartition(this, name, p);
  }

  /** A copy of a partition's raw bytes. */
  image(name: PartitionName): Uint8Array {
    const p = this.parts.get(name);
    if (p === undefined) throw new FlashError("absent", `flash: no partition "${name}"`);
    const out = new Uint8Array(p.count * this.blockSize);
    for (let i = 0; i < p.count; i++) out.set(p.at(i), i * this.blockSize);
    return out;
  }

  /**
   * The partition's block list when this flash has written none of it (every block still
   * shared, so never changed in place), else undefined.
   */
  sharedBlocks(name: PartitionName): readonly Uint8Array[] | undefined {
    const p = this.parts.get(name);
    if (p === undefined) return undefined;
    if (p.changed !== undefined) for (const b of p.changed.values()) if (b !== this.erased) return undefined;
    return p.list();
  }

  /** Bytes this flash holds privately (the rest is shared). */
  ownedBytes(): number {
    let n = 0;
    for (const p of this.parts.values()) if (p.changed !== undefined) for (const b of p.changed.values()) if (b !== this.erased) n += this.blockSize;
    return n;
  }

  /** @internal A block this flash may write in place (copied on first write). */
  own(p: Blocks, i: number): Uint8Array {
    const changed = p.changed;
    const mine = changed?.get(i);
    if (mine !== undefined && mine !== this.erased) return mine;
    const copy = (mine ?? p.base[i]).slice();
    (p.changed = changed ?? new Map()).set(i, copy);
    return copy;
  }

  /** @internal Erasing shares the erased block again: no memory for erased space. */
  erase(p: Blocks, i: number): void {
    if (p.base[i] === this.erased) p.changed?.delete(i);
    else (p.changed ??= new Map()).set(i, this.erased);
  }
}

class CowPartition implements FlashPartition {
  readonly size: number;
  readonly blockSize: number;

  constructor(
    private readonly flash: CowFlash,
    readonly name: PartitionName,
    private readonly p: Blocks,
  ) {
    this.blockSize = flash.blockSize;
    this.size = p.count * this.blockSize;
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    this.flash.checkRead(this.name, offset, length);
    return this.bytesAt(offset, length);
  }

  private bytesAt(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const bs = this.blockSize;
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const b = Math.floor(at / bs);
      const within = at - b * bs;
      const n = Math.min(bs - within, length - done);
      out.set(this.p.at(b).subarray(within, within + n), done);
      done += n;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    const old = this.bytesAt(offset, data.length);
    checkProgram(this.name, offset, old, data);
    const { op, fault } = this.flash.beginOp("write", this.name, offset, data.length);
    // A result only ever clears bits of `old`: AND it in, block by block.
    const result = programResult(old, data, fault, op.seq);
    const bs = this.blockSize;
    for (let i = 0; i < result.length; ) {
      const at = offset + i;
      const b = Math.floor(at / bs);
      const end = Math.min(result.length, i + (bs - (at - b * bs)));
      let changes = false;
      for (let j = i; j < end; j++) if (result[j] !== old[j]) changes = true;
      if (!changes) {
        i = end;
        continue;
      }
      const block = this.flash.own(this.p, b);
      for (let w = at - b * bs; i < end; i++, w++) block[w] &= result[i];
    }
    if (fault) this.flash.cut(op);
  }

  eraseBlock(index: number): void {
    const blocks = this.p.count;
    if (!Number.isInteger(index) || index < 0 || index >= blocks) {
      throw new FlashError("range", `flash: ${this.name} has no block ${index} (0..${blocks - 1})`);
    }
    const { op, fault } = this.flash.beginOp("erase", this.name, index * this.blockSize, this.blockSize);
    if (fault) {
      // A torn erase, the same deterministic bits per op as SimFlash.
      const block = this.flash.own(this.p, index);
      block.set(eraseResult(block, fault, op.seq));
      this.flash.cut(op);
    }
    this.flash.erase(this.p, index);
  }

  private checkRange(offset: number, length: number): void {
    checkRange(this.name, this.size, offset, length);
  }
}

/**
 * Factory-flashed templates, one per firmware image: each device gets a clone, so a fleet of
 * 10,000 shares the factory image's blocks until a device writes them.
 */
export class FactoryFlashes {
  private readonly templates = new Map<string, CowFlash>();

  constructor(
    private readonly image: (firmware: string) => Uint8Array,
    /** Writes the factory records of the device's boot model (default: the reference bootloader's). */
    private readonly provisionSlot: (flash: Flash, image: Uint8Array) => void = (flash, image) => provision(flash, image, 0),
  ) {}

  /** A new device's own flash, factory-flashed with `firmware` in slot 0. */
  device(firmware: string): CowFlash {
    let template = this.templates.get(firmware);
    if (!template) {
      template = CowFlash.blank(ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE);
      this.provisionSlot(template, this.image(firmware));
      this.templates.set(firmware, template);
    }
    return template.clone();
  }
}

/** Distinct slot contents a fleet remembers (factory images, OTA images are device-written). */
const SLOT_CHECKS_MAX = 16;

/**
 * The bootloader's slot verification (a SHA-256 over the whole image) shared across a fleet:
 * a slot whose blocks are the very same shared blocks as one already verified holds the same
 * bytes, so it gets the same result. Any slot a device has written is verified for real.
 */
export class SlotCheckCache {
  private readonly entries: { blocks: readonly Uint8Array[]; check: SlotCheck }[] = [];

  verify(flash: CowFlash, part: FlashPartition, sha256: Sha256): SlotCheck {
    const blocks = flash.sharedBlocks(part.name);
    if (blocks === undefined) return verifySlotImage(part, sha256);
    for (const e of this.entries) if (sameBlocks(e.blocks, blocks)) return e.check;
    const check = verifySlotImage(part, sha256);
    // Safe to keep: a shared list is never changed, and a list made for this call is nobody else's.
    if (this.entries.length < SLOT_CHECKS_MAX) this.entries.push({ blocks, check });
    return check;
  }
}

function sameBlocks(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The key-value store as ESP-IDF's NVS keeps it: entries in 4 KiB pages of a flash partition,
 * written by ordinary (tearable) flash programs, with NVS's own recovery at load. Modelled on
 * ESP-IDF v5.4.1 components/nvs_flash (read, not copied):
 * - nvs_page.hpp / nvs_page.cpp: page header (state, seq, CRC), the entry state bitmap (2 bits per
 *   entry: EMPTY 0b11, WRITTEN 0b10, ERASED 0b00), 126 entries of 32 bytes;
 *   Page::writeItem → writeEntry (header entry, then its bitmap state WRITTEN) → writeEntryData
 *   (data entries, then their states WRITTEN); eraseEntryAndSpan (states to ERASED);
 *   Page::mLoadEntryTable: an entry still EMPTY in the bitmap whose first word is not 0xFFFFFFFF
 *   was half-written and is marked ERASED; a WRITTEN item whose header CRC fails
 *   (Item::checkHeaderConsistency) or whose data entries are not all WRITTEN is erased with its
 *   span; of two items with the same key on a page the older is erased;
 * - nvs_types.cpp Item::calculateCrc32: CRC over nsIndex..chunkIndex, key and the 8 data bytes;
 *   variable-length data carries its own CRC, checked on read (Page::readItem erases on mismatch);
 * - nvs_storage.cpp Storage::writeItem: the new item is written before the old one is erased, so a
 *   cut in between leaves both; when making room garbage-collected the old item's page, the old
 *   item is looked up again and erased where it was moved to; Storage::findItem takes the first
 *   page in sequence order.
 *
 * Simplifications, all on the safe side of what the app can observe: one namespace (no namespace
 * entries), every value a single variable-length item (no multi-page blob chunks: a value of up to
 * 4,000 bytes fits one page), and garbage collection that copies the live items of the oldest full
 * page into the free page before erasing it (a cut mid-way leaves duplicates, resolved by sequence
 * order as above). Page states: ACTIVE and FULL as ESP-IDF writes them; FREEING is not modelled.
 */
import { FlashError, KvError, checkKvEntry, type FlashPartition, type KeyValueStore } from "../../device/ports";
import { espRomCrc32Le } from "../../bootloader-spec/reference/crc32";

const PAGE_SIZE = 4096;
const ENTRY_SIZE = 32;
const ENTRY_COUNT = 126;
const BITMAP_OFFSET = 32;
const ENTRIES_OFFSET = 64;
/** Pages in partitions.csv's nvs partition (0x6000). */
export const NVS_PAGES = 6;

const PAGE_ACTIVE = 0xfffffffe;
const PAGE_FULL = 0xfffffffc;
const PAGE_EMPTY = 0xffffffff;

const ENTRY_EMPTY = 0b11;
const ENTRY_WRITTEN = 0b10;
const ENTRY_ERASED = 0b00;

const NS_INDEX = 1;
/** ItemType::BLOB (variable length, single chunk). */
const TYPE_BLOB = 0x41;
const KEY_BYTES = 16;

interface Located {
  page: number;
  entry: number;
  span: number;
  value: Uint8Array;
}

export class NvsFlashKv implements KeyValueStore {
  private index = new Map<string, Located>();
  /** Pages in use, oldest first, by sequence number. */
  private order: number[] = [];
  private seqs = new Map<number, number>();
  private active = -1;
  private next = 0;

  constructor(
    private readonly part: FlashPartition,
    private readonly pages = NVS_PAGES,
  ) {
    if (part.blockSize !== PAGE_SIZE) throw new FlashError("range", `nvs: needs ${PAGE_SIZE}-byte pages, partition has ${part.blockSize}`);
    if (part.size < pages * PAGE_SIZE) throw new FlashError("range", `nvs: partition ${part.name} is smaller than ${pages} pages`);
    this.load();
  }

  /** After a reboot: forget RAM, read the pages again, recover what a cut left half-done. */
  load(): void {
    this.index.clear();
    this.order = [];
    this.seqs.clear();
    this.active = -1;
    this.next = 0;
    const found: { page: number; seq: number; state: number }[] = [];
    for (let p = 0; p < this.pages; p++) {
      const h = this.part.read(p * PAGE_SIZE, 32);
      const v = new DataView(h.buffer);
      const state = v.getUint32(0, true);
      if (state === PAGE_EMPTY) {
        // A page whose header never landed but that holds anything is erased before use.
        continue;
      }
      const seq = v.getUint32(4, true);
      if ((state !== PAGE_ACTIVE && state !== PAGE_FULL) || v.getUint32(28, true) !== espRomCrc32Le(0xffffffff, h, 4, 28)) {
        this.part.eraseBlock(p); // a corrupt or half-initialised page: NVS erases it
        continue;
      }
      found.push({ page: p, seq, state });
    }
    found.sort((a, b) => a.seq - b.seq);
    for (const f of found) {
      this.order.push(f.page);
      this.seqs.set(f.page, f.seq);
      this.loadPage(f.page, f.state === PAGE_ACTIVE);
      if (f.state === PAGE_ACTIVE) this.active = f.page;
    }
    // Only the newest page may stay active (a cut between marking one FULL and the next ACTIVE).
    if (this.active !== -1 && this.active !== this.order.at(-1)) this.active = -1;
    if (this.active !== -1) this.next = this.firstFree(this.active);
  }

  get(key: string): Uint8Array | undefined {
    const at = this.index.get(key);
    return at?.value.slice();
  }

  keys(): string[] {
    return [...this.index.keys()].sort();
  }

  set(key: string, value: Uint8Array): void {
    checkKvEntry(key, value);
    this.io(() => {
      const span = 1 + Math.ceil(value.length / ENTRY_SIZE);
      const at = this.place(span, key);
      // Where the old item is now, not where it was before place(): garbage collection may just
      // have moved it to the new page (Storage::writeItem finds it again when its page was erased).
      const old = this.index.get(key);
      this.writeItem(at.page, at.entry, key, value);
      if (this.intact(at.page, at.entry, key, value)) {
        this.index.set(key, { page: at.page, entry: at.entry, span, value: value.slice() });
      } else {
        // Written over a torn entry's leftovers: ESP-IDF reports success, and its next lookup of the
        // key fails the CRC check and erases the item (Page::findItem, Page::readItem). The old item
        // is erased all the same (Storage::writeItem), so the key is gone.
        this.eraseSpan(at.page, at.entry, span);
        this.index.delete(key);
      }
      if (old) this.eraseSpan(old.page, old.entry, old.span);
    });
  }

  delete(key: string): void {
    const old = this.index.get(key);
    if (!old) return;
    this.io(() => {
      this.eraseSpan(old.page, old.entry, old.span);
      this.index.delete(key);
    });
  }

  // ------------------------------------------------------------------ pages

  private loadPage(page: number, active: boolean): void {
    const states = this.bitmap(page);
    const base = page * PAGE_SIZE;
    if (active) {
      // Entries past the last used one whose first word was written but whose state was not (half-written).
      for (let i = 0; i < ENTRY_COUNT; i++) {
        if (states[i] !== ENTRY_EMPTY) continue;
        const first = new DataView(this.part.read(base + ENTRIES_OFFSET + i * ENTRY_SIZE, 4).buffer).getUint32(0, true);
        if (first !== 0xffffffff) this.setState(page, i, ENTRY_ERASED, states);
      }
    }
    for (let i = 0; i < ENTRY_COUNT; ) {
      if (states[i] !== ENTRY_WRITTEN) {
        i++;
        continue;
      }
      const item = this.part.read(base + ENTRIES_OFFSET + i * ENTRY_SIZE, ENTRY_SIZE);
      const span = item[2];
      if (!headerOk(item) || span < 1 || i + span > ENTRY_COUNT) {
        this.eraseSpan(page, i, 1, states);
        i++;
        continue;
      }
      let complete = true;
      for (let j = i + 1; j < i + span; j++) if (states[j] !== ENTRY_WRITTEN) complete = false;
      if (!complete) {
        this.eraseSpan(page, i, span, states);
        i += span;
        continue;
      }
      const key = keyOf(item);
      const dv = new DataView(item.buffer);
      const size = dv.getUint16(24, true);
      const data = this.part.read(base + ENTRIES_OFFSET + (i + 1) * ENTRY_SIZE, size);
      if (size > (span - 1) * ENTRY_SIZE || dv.getUint32(28, true) !== espRomCrc32Le(0xffffffff, data)) {
        this.eraseSpan(page, i, span, states); // Page::readItem: data CRC mismatch
        i += span;
        continue;
      }
      const prev = this.index.get(key);
      if (prev && prev.page === page) {
        this.eraseSpan(page, prev.entry, prev.span, states); // the older duplicate on the same page
        this.index.set(key, { page, entry: i, span, value: data });
      } else if (prev) {
        // A copy on a newer page while an older page still holds the key (a cut between writing the
        // new item and erasing the old, or during garbage collection): the first page wins, as in
        // Storage::findItem, and the copy is erased so that it can never resurface later.
        this.eraseSpan(page, i, span, states);
      } else {
        this.index.set(key, { page, entry: i, span, value: data });
      }
      i += span;
    }
  }

  /** Where `span` entries go: the active page, a fresh page, or a page garbage collection freed. */
  private place(span: number, key: string): { page: number; entry: number } {
    if (span > ENTRY_COUNT) throw new KvError("value-too-long", `kv: value for "${key}" does not fit a page`);
    for (let round = 0; round <= this.pages; round++) {
      if (this.active !== -1 && this.next + span <= ENTRY_COUNT) return { page: this.active, entry: (this.next += span) - span };
      if (this.active !== -1) this.writePageState(this.active, PAGE_FULL);
      // ESP-IDF keeps one page free for garbage collection: when it is the last, collect into it.
      if (this.freePages() > 1) {
        this.openPage(this.freePage());
        this.next = 0;
      } else if (!this.collect()) {
        break;
      }
    }
    throw new KvError("full", `kv: no room for "${key}" (${span} entries)`);
  }

  /**
   * Copies the live items of the oldest page into the free page (now the active one), then erases
   * the old page. False when there is nothing to collect.
   */
  private collect(): boolean {
    const victim = this.order[0];
    const free = this.freePage();
    if (victim === undefined || free === -1) return false;
    const live = [...this.index].filter(([, at]) => at.page === victim);
    this.openPage(free);
    this.next = 0;
    for (const [k, at] of live) {
      this.writeItem(free, this.next, k, at.value);
      this.index.set(k, { page: free, entry: this.next, span: at.span, value: at.value });
      this.next += at.span;
    }
    this.part.eraseBlock(victim);
    this.order = this.order.filter((p) => p !== victim);
    this.seqs.delete(victim);
    return true;
  }

  private openPage(page: number): void {
    this.part.eraseBlock(page);
    const seq = this.order.length === 0 ? 0 : Math.max(...this.order.map((p) => this.seqs.get(p)!)) + 1;
    const h = new Uint8Array(32).fill(0xff);
    const v = new DataView(h.buffer);
    v.setUint32(0, PAGE_ACTIVE, true);
    v.setUint32(4, seq, true);
    h[8] = 0xfe; // format version 2
    v.setUint32(28, espRomCrc32Le(0xffffffff, h, 4, 28), true);
    this.part.write(page * PAGE_SIZE, h);
    this.order.push(page);
    this.seqs.set(page, seq);
    this.active = page;
  }

  private writePageState(page: number, state: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, state, true);
    const cur = this.part.read(page * PAGE_SIZE, 4);
    for (let i = 0; i < 4; i++) b[i] &= cur[i];
    this.part.write(page * PAGE_SIZE, b);
    if (state === PAGE_FULL && this.active === page) this.active = -1;
  }

  private freePage(): number {
    for (let p = 0; p < this.pages; p++) if (!this.order.includes(p)) return p;
    return -1;
  }

  private freePages(): number {
    return this.pages - this.order.length;
  }

  private firstFree(page: number): number {
    const states = this.bitmap(page);
    let last = -1;
    for (let i = 0; i < ENTRY_COUNT; i++) if (states[i] !== ENTRY_EMPTY) last = i;
    return last + 1;
  }

  // ------------------------------------------------------------------ entries

  /** Page::writeItem: the header entry, its state, then the data entries and their states. */
  private writeItem(page: number, entry: number, key: string, value: Uint8Array): void {
    const span = 1 + Math.ceil(value.length / ENTRY_SIZE);
    const item = new Uint8Array(ENTRY_SIZE).fill(0xff);
    const v = new DataView(item.buffer);
    item[0] = NS_INDEX;
    item[1] = TYPE_BLOB;
    item[2] = span;
    item[3] = 0xff;
    for (let i = 0; i < KEY_BYTES; i++) item[8 + i] = i < key.length ? key.charCodeAt(i) : 0;
    v.setUint16(24, value.length, true);
    v.setUint16(26, 0xffff, true);
    v.setUint32(28, espRomCrc32Le(0xffffffff, value), true);
    v.setUint32(4, itemCrc(item), true);
    const base = page * PAGE_SIZE + ENTRIES_OFFSET;
    this.program(base + entry * ENTRY_SIZE, item);
    this.setState(page, entry, ENTRY_WRITTEN);
    if (value.length > 0) {
      const data = new Uint8Array((span - 1) * ENTRY_SIZE).fill(0xff);
      data.set(value);
      this.program(base + (entry + 1) * ENTRY_SIZE, data);
      for (let j = entry + 1; j < entry + span; j++) this.setState(page, j, ENTRY_WRITTEN);
    }
  }

  /**
   * Programs an entry the way NOR does it: old & new. ESP-IDF writes into the entry it believes
   * free without checking it is erased (Page::mLoadEntryTable checks only the first word of the
   * entry after the last written one), so a cut that tore an entry but left its first word erased
   * leaves programmed bits there, and the next item written on top of them comes out corrupt.
   */
  private program(at: number, bytes: Uint8Array): void {
    const old = this.part.read(at, bytes.length);
    this.part.write(at, bytes.map((b, i) => b & old[i]));
  }

  /** The item at `entry` as Page::findItem / Page::readItem would accept it (header and data CRC). */
  private intact(page: number, entry: number, key: string, value: Uint8Array): boolean {
    const base = page * PAGE_SIZE + ENTRIES_OFFSET + entry * ENTRY_SIZE;
    const item = this.part.read(base, ENTRY_SIZE);
    if (!headerOk(item) || keyOf(item) !== key) return false;
    const dv = new DataView(item.buffer);
    const data = this.part.read(base + ENTRY_SIZE, value.length);
    return dv.getUint16(24, true) === value.length && dv.getUint32(28, true) === espRomCrc32Le(0xffffffff, data);
  }

  private eraseSpan(page: number, entry: number, span: number, states?: number[]): void {
    for (let j = entry; j < entry + span; j++) this.setState(page, j, ENTRY_ERASED, states);
  }

  /** alterEntryState: rewrites the bitmap word holding the entry (only clearing bits). */
  private setState(page: number, entry: number, state: number, states?: number[]): void {
    const word = Math.floor(entry / 16);
    const at = page * PAGE_SIZE + BITMAP_OFFSET + word * 4;
    const cur = new DataView(this.part.read(at, 4).buffer).getUint32(0, true);
    const shift = (entry % 16) * 2;
    const next = ((cur & ~(0b11 << shift)) | ((state & (cur >>> shift) & 0b11) << shift)) >>> 0;
    if (next !== cur) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, next, true);
      this.part.write(at, b);
    }
    if (states) states[entry] = state;
  }

  private bitmap(page: number): number[] {
    const b = this.part.read(page * PAGE_SIZE + BITMAP_OFFSET, 32);
    const out: number[] = [];
    for (let i = 0; i < ENTRY_COUNT; i++) out.push((b[i >> 2] >> ((i & 3) * 2)) & 0b11);
    return out;
  }

  /** Flash I/O errors under NVS surface as the port's KvError("io"); RAM is reloaded from flash. */
  private io(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof FlashError) {
        this.load();
        throw new KvError("io", `kv: ${e.message}`);
      }
      throw e;
    }
  }
}

function itemCrc(item: Uint8Array): number {
  let c = espRomCrc32Le(0xffffffff, item, 0, 4);
  c = espRomCrc32Le(c, item, 8, 24);
  return espRomCrc32Le(c, item, 24, 32);
}

function headerOk(item: Uint8Array): boolean {
  return item[0] === NS_INDEX && item[1] === TYPE_BLOB && new DataView(item.buffer, item.byteOffset).getUint32(4, true) === itemCrc(item);
}

function keyOf(item: Uint8Array): string {
  let k = "";
  for (let i = 8; i < 8 + KEY_BYTES && item[i] !== 0; i++) k += String.fromCharCode(item[i]);
  return k;
}

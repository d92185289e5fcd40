/**
 * The key-value store as ESP-IDF's NVS keeps it: entries in 4 KiB pages of a flash partition,
 * written by ordinary (tearable) flash programs, with NVS's own recovery at load. Modelled on
 * ESP-IDF v5.4.1 components/nvs_flash (read, not copied):
 * - nvs_page.cpp: page header (state, seq, CRC), the entry state bitmap (2 bits per entry: EMPTY
 *   0b11, WRITTEN 0b10, ERASED 0b00), 126 entries of 32 bytes. Page::writeItem: writeEntry (the
 *   header entry, then its state), writeEntryData (the whole data entries in one program, then
 *   their states, alterEntryRangeState: one bitmap word at a time, last word first), writeEntry
 *   (the tail entry, then its state). eraseEntryAndSpan: the states to ERASED, the same way.
 *   Page::mLoadEntryTable, active page: from the first EMPTY entry on, entries whose first word is
 *   programmed are marked ERASED (half-written), up to the first whose first word is still
 *   0xFFFFFFFF; an item failing Item::checkHeaderConsistency loses that entry, an item whose data
 *   entries are not all WRITTEN is erased with its span, and of two items of a key the older is
 *   erased. Full and freeing pages: the same, without the duplicate check.
 * - nvs_types.cpp Item::calculateCrc32: CRC over nsIndex..chunkIndex, key and the 8 data bytes;
 *   variable-length data carries its own CRC, checked on read (Page::readItem erases on mismatch;
 *   here that erase happens at the next load).
 * - nvs_storage.cpp Storage::writeItem: a value equal to the stored one is not written (cmpItem,
 *   cmpMultiPageBlob); the new item is written before the old one is erased; when making room
 *   garbage-collected the old item's page, the old item is looked up again where it was moved to.
 *   Storage::findItem reads the first page in sequence order that holds the key. nvs_erase_key on a
 *   blob (eraseMultiPageBlob, VER_ANY) erases the first item and, if a cut left one, a second.
 * - nvs_pagemanager.cpp PageManager::load: the last item of the newest page is erased from the
 *   oldest other page (not FREEING) that holds its key, so after a cut between writing a new item
 *   and erasing the old the new value wins; other duplicates are left, and reads take the first.
 *   requestNewPage: with one free page left, the page with the most unused entries is marked
 *   FREEING, its items copied entry by entry (Page::copyItems) into the free page and it is erased;
 *   load finishes an interrupted collection (erases the partial copy, copies again).
 *
 * Simplifications: one namespace (no namespace entries), and every value a single variable-length
 * item: ESP-IDF stores a blob as BLOB_DATA chunks plus a BLOB_IDX item (writeMultiPageBlob) and
 * splits it over pages when the active page has 400 bytes or more left (docs/esp32.md, "NVS in host-sim").
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
/** Garbage collection in progress: set before the live items are copied (PageManager::requestNewPage). */
const PAGE_FREEING = 0xfffffff8;
const PAGE_EMPTY = 0xffffffff;

const ENTRY_EMPTY = 0b11;
const ENTRY_WRITTEN = 0b10;
const ENTRY_ERASED = 0b00;
/** A torn state write can leave 0b01; an active page's load erases such an entry. */
const ENTRY_ILLEGAL = 0b01;

const NS_INDEX = 1;
/** ItemType::BLOB (variable length, single chunk). */
const TYPE_BLOB = 0x41;
const KEY_BYTES = 16;

/** One item for a key on flash. A key can have more than one after a cut (see load()). */
interface Copy {
  page: number;
  entry: number;
  span: number;
  value: Uint8Array;
  /** The data passes its CRC. When it does not, ESP-IDF finds out only when it reads the item. */
  ok: boolean;
}

export class NvsFlashKv implements KeyValueStore {
  /** Every item of each key, in Storage::findItem's order (page sequence, then entry): reads take the first. */
  private copies = new Map<string, Copy[]>();
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

  /** After a reboot: forget RAM, read the pages again, recover what a cut left half-done (PageManager::load). */
  load(): void {
    this.copies.clear();
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
      if ((state !== PAGE_ACTIVE && state !== PAGE_FULL && state !== PAGE_FREEING) || v.getUint32(28, true) !== espRomCrc32Le(0xffffffff, h, 4, 28)) {
        this.part.eraseBlock(p); // a corrupt or half-initialised page: NVS erases it
        continue;
      }
      found.push({ page: p, seq, state });
    }
    found.sort((a, b) => a.seq - b.seq);
    const freeing = new Set<number>();
    for (const f of found) {
      this.order.push(f.page);
      this.seqs.set(f.page, f.seq);
      const next = this.loadPage(f.page, f.state === PAGE_ACTIVE);
      if (f.state === PAGE_ACTIVE) [this.active, this.next] = [f.page, next];
      if (f.state === PAGE_FREEING) freeing.add(f.page);
    }
    // Only the newest page may stay active (a cut between marking one FULL and the next ACTIVE).
    if (this.active !== -1 && this.active !== this.order.at(-1)) this.active = -1;
    this.eraseOlderCopyOfLastItem(freeing);
    // Items whose data fails its CRC: Page::readItem erases them at the first read of the key.
    for (const [key, list] of this.copies) for (const c of list.filter((x) => !x.ok)) this.eraseCopy(key, c);
    const first = this.order.find((p) => freeing.has(p));
    if (first !== undefined) this.finishFreeing(first);
  }

  /**
   * PageManager::load: a cut in Storage::writeItem after the new item and before the old one's erase
   * leaves the key twice, the new item last on the newest page. The key is erased from the oldest
   * page (not FREEING) that holds it, so the new value wins. Other duplicates are left alone: reads
   * take the first page's copy (Storage::findItem).
   */
  private eraseOlderCopyOfLastItem(freeing: Set<number>): void {
    const newest = this.order.at(-1);
    let last: { key: string; entry: number } | undefined;
    for (const [key, list] of this.copies) for (const c of list) if (c.page === newest && (!last || c.entry > last.entry)) last = { key, entry: c.entry };
    if (!last) return;
    const list = this.copies.get(last.key)!;
    for (const p of this.order) {
      if (p === newest) break;
      if (freeing.has(p)) continue;
      const older = list.find((c) => c.page === p);
      if (older) {
        this.eraseCopy(last.key, older);
        return;
      }
    }
  }

  /**
   * PageManager::load after a cut during garbage collection: the newest page, if active, holds a
   * partial copy and is erased; the copy is made again into a fresh page and the freeing page erased.
   */
  private finishFreeing(freeing: number): void {
    const newest = this.order.at(-1)!;
    if (newest !== freeing && this.active === newest) {
      this.part.eraseBlock(newest);
      this.order = this.order.filter((p) => p !== newest);
      this.seqs.delete(newest);
      for (const [k, list] of this.copies) this.setCopies(k, list.filter((c) => c.page !== newest));
      this.active = -1;
    }
    if (this.freePage() !== -1) this.moveLive(freeing);
  }

  get(key: string): Uint8Array | undefined {
    const at = this.copies.get(key)?.[0];
    return at?.ok ? at.value.slice() : undefined;
  }

  keys(): string[] {
    return [...this.copies.keys()].filter((k) => this.copies.get(k)![0].ok).sort();
  }

  set(key: string, value: Uint8Array): void {
    checkKvEntry(key, value);
    // Storage::writeItem (cmpItem; for blobs cmpMultiPageBlob): an unchanged value is not written.
    const found = this.copies.get(key)?.[0];
    if (found?.ok && sameBytes(found.value, value)) return;
    this.io(() => {
      const span = 1 + Math.ceil(value.length / ENTRY_SIZE);
      const at = this.place(span, key);
      // Where the old item is now, not where it was before place(): garbage collection may just
      // have moved it to the new page (Storage::writeItem finds it again when its page was erased).
      const old = this.copies.get(key)?.[0];
      this.writeItem(at.page, at.entry, key, value);
      const written = this.checkItem(at.page, at.entry, key, value);
      if (written === "header") {
        // Written over a torn entry's leftovers so that the header fails its CRC: ESP-IDF reports
        // success, and lookups and the next load erase the header and the entries after it.
        this.eraseSpan(at.page, at.entry, span);
      } else {
        // A data CRC failure (also over leftovers) is found by the next read (Page::readItem),
        // which erases the item: the key reads as missing from now on.
        this.setCopies(key, [...(this.copies.get(key) ?? []), { page: at.page, entry: at.entry, span, value: value.slice(), ok: written === "ok" }]);
      }
      if (old) this.eraseCopy(key, old);
    });
  }

  /** nvs_erase_key on a blob (Storage::eraseMultiPageBlob, VER_ANY): the first item, and one more if a cut left two. */
  delete(key: string): void {
    if (!this.copies.has(key)) return;
    this.io(() => {
      for (let i = 0; i < 2; i++) {
        const first = this.copies.get(key)?.[0];
        if (first) this.eraseCopy(key, first);
      }
    });
  }

  // ------------------------------------------------------------------ pages

  /**
   * Page::mLoadEntryTable: drops what a cut left half-written and lists the page's items. Returns
   * where the next item goes on an active page.
   */
  private loadPage(page: number, active: boolean): number {
    const states = this.bitmap(page);
    const base = page * PAGE_SIZE;
    let end = ENTRY_COUNT;
    let next = ENTRY_COUNT;
    if (active) {
      // From the first EMPTY entry on: entries whose first word was programmed but whose state was
      // not (half-written) are marked ERASED, up to the first entry whose first word is still erased.
      // Only the first word is read, so a tear that left it erased goes unnoticed.
      end = states.indexOf(ENTRY_EMPTY);
      if (end === -1) end = ENTRY_COUNT;
      for (; end < ENTRY_COUNT; end++) {
        const first = new DataView(this.part.read(base + ENTRIES_OFFSET + end * ENTRY_SIZE, 4).buffer).getUint32(0, true);
        if (first === 0xffffffff) break;
        this.setState(page, end, ENTRY_ERASED, states);
      }
      next = end;
    }
    const seen = new Map<string, Copy>();
    for (let i = 0; i < end; ) {
      if (states[i] !== ENTRY_WRITTEN) {
        if (active && states[i] === ENTRY_ILLEGAL) this.setState(page, i, ENTRY_ERASED, states);
        i++;
        continue;
      }
      const item = this.part.read(base + ENTRIES_OFFSET + i * ENTRY_SIZE, ENTRY_SIZE);
      if (!headerOk(item, i)) {
        this.eraseSpan(page, i, 1, states); // Item::checkHeaderConsistency failed: the entry alone
        i++;
        continue;
      }
      const span = item[2];
      let complete = true;
      for (let j = i + 1; j < i + span; j++) if (states[j] !== ENTRY_WRITTEN) complete = false;
      if (!complete) {
        this.eraseSpan(page, i, span, states);
        next = Math.max(next, i + span);
        i += span;
        continue;
      }
      const key = keyOf(item);
      const dv = new DataView(item.buffer);
      const data = this.part.read(base + ENTRIES_OFFSET + (i + 1) * ENTRY_SIZE, dv.getUint16(24, true));
      const copy: Copy = { page, entry: i, span, value: data, ok: dv.getUint32(28, true) === espRomCrc32Le(0xffffffff, data) };
      const dup = seen.get(key);
      if (active && dup) {
        // An active page keeps only its newest item of a key (mLoadEntryTable's duplicate check);
        // full and freeing pages are not checked.
        this.eraseSpan(page, dup.entry, dup.span, states);
        this.setCopies(key, this.copies.get(key)!.filter((c) => c !== dup));
      }
      seen.set(key, copy);
      this.copies.set(key, [...(this.copies.get(key) ?? []), copy]);
      i += span;
    }
    return next;
  }

  /**
   * Where `span` entries go: the active page, a fresh page, or a page garbage collection freed.
   * Storage::writeMultiPageBlob asks for a new page while that changes the room it gets, and
   * reports NOT_ENOUGH_SPACE once a new page brings the same room as before, or none can be had.
   */
  private place(span: number, key: string): { page: number; entry: number } {
    if (span > ENTRY_COUNT) throw new KvError("value-too-long", `kv: value for "${key}" does not fit a page`);
    let room = this.room();
    for (;;) {
      if (this.active !== -1 && this.next + span <= ENTRY_COUNT) return { page: this.active, entry: (this.next += span) - span };
      if (this.active !== -1) this.writePageState(this.active, PAGE_FULL);
      // ESP-IDF keeps one page free for garbage collection: when it is the last, collect into it.
      if (this.freePages() > 1) {
        this.openPage(this.freePage());
        this.next = 0;
      } else if (!this.collect()) {
        break;
      }
      const now = this.room();
      if (now === room) break;
      room = now;
    }
    throw new KvError("full", `kv: no room for "${key}" (${span} entries)`);
  }

  /** Page::getVarDataTailroom of the page writes go to (one entry is kept for the item's header). */
  private room(): number {
    return this.active === -1 ? 0 : Math.max(0, ENTRY_COUNT - this.next - 1) * ENTRY_SIZE;
  }

  /**
   * PageManager::requestNewPage: the page with the most entries not in use is marked FREEING, its
   * live items are copied into the free page (now the active one), and it is erased. False when
   * there is nothing to collect.
   */
  private collect(): boolean {
    let victim = -1;
    let most = 0;
    for (const p of this.order) {
      const unused = this.bitmap(p).filter((st) => st !== ENTRY_WRITTEN).length;
      if (unused > most) [victim, most] = [p, unused];
    }
    if (victim === -1 || this.freePage() === -1) return false;
    this.writePageState(victim, PAGE_FREEING);
    this.moveLive(victim);
    return true;
  }

  /** Page::copyItems into a newly opened page, entry by entry (Page::writeEntry), then Page::erase of the source. */
  private moveLive(victim: number): void {
    const free = this.freePage();
    const moving: [string, Copy][] = [];
    for (const [k, list] of this.copies) for (const c of list) if (c.page === victim) moving.push([k, c]);
    moving.sort((a, b) => a[1].entry - b[1].entry);
    this.openPage(free);
    this.next = 0;
    const base = ENTRIES_OFFSET;
    for (const [, c] of moving) {
      for (let j = 0; j < c.span; j++) {
        const entry = this.part.read(victim * PAGE_SIZE + base + (c.entry + j) * ENTRY_SIZE, ENTRY_SIZE);
        this.program(free * PAGE_SIZE + base + (this.next + j) * ENTRY_SIZE, entry);
        this.setState(free, this.next + j, ENTRY_WRITTEN);
      }
      c.page = free;
      c.entry = this.next;
      this.next += c.span;
    }
    this.part.eraseBlock(victim);
    this.order = this.order.filter((p) => p !== victim);
    this.seqs.delete(victim);
    for (const k of new Set(moving.map(([k]) => k))) this.setCopies(k, this.copies.get(k)!);
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

  // ------------------------------------------------------------------ entries

  /**
   * Page::writeItem: the header entry and its state (writeEntry); the whole 32-byte data entries in
   * one program and their states (writeEntryData); the tail entry and its state (writeEntry).
   */
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
    const whole = Math.floor(value.length / ENTRY_SIZE);
    if (whole > 0) {
      this.program(base + (entry + 1) * ENTRY_SIZE, value.subarray(0, whole * ENTRY_SIZE));
      this.setStates(page, entry + 1, entry + 1 + whole, ENTRY_WRITTEN);
    }
    if (value.length % ENTRY_SIZE > 0) {
      const tail = new Uint8Array(ENTRY_SIZE).fill(0xff);
      tail.set(value.subarray(whole * ENTRY_SIZE));
      this.program(base + (entry + 1 + whole) * ENTRY_SIZE, tail);
      this.setState(page, entry + 1 + whole, ENTRY_WRITTEN);
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

  /** The item just written at `entry`, as Page::findItem (header) and Page::readItem (data CRC) will see it. */
  private checkItem(page: number, entry: number, key: string, value: Uint8Array): "ok" | "header" | "data" {
    const base = page * PAGE_SIZE + ENTRIES_OFFSET + entry * ENTRY_SIZE;
    const item = this.part.read(base, ENTRY_SIZE);
    if (!headerOk(item, entry) || keyOf(item) !== key) return "header";
    const dv = new DataView(item.buffer);
    const data = this.part.read(base + ENTRY_SIZE, value.length);
    return dv.getUint16(24, true) === value.length && dv.getUint32(28, true) === espRomCrc32Le(0xffffffff, data) ? "ok" : "data";
  }

  /** Page::eraseEntryAndSpan of one of a key's items. */
  private eraseCopy(key: string, c: Copy): void {
    this.eraseSpan(c.page, c.entry, c.span);
    this.setCopies(key, this.copies.get(key)!.filter((x) => x !== c));
  }

  /** A key's items, kept in Storage::findItem's order; a key with none is gone. */
  private setCopies(key: string, list: Copy[]): void {
    if (list.length === 0) {
      this.copies.delete(key);
      return;
    }
    const rank = (p: number) => this.order.indexOf(p);
    this.copies.set(key, list.sort((a, b) => rank(a.page) - rank(b.page) || a.entry - b.entry));
  }

  /** Page::eraseEntryAndSpan: one entry's state, or a span's (alterEntryRangeState). */
  private eraseSpan(page: number, entry: number, span: number, states?: number[]): void {
    if (span === 1) this.setState(page, entry, ENTRY_ERASED, states);
    else this.setStates(page, entry, entry + span, ENTRY_ERASED, states);
  }

  /** alterEntryState: rewrites the bitmap word holding the entry (only clearing bits). */
  private setState(page: number, entry: number, state: number, states?: number[]): void {
    this.setStates(page, entry, entry + 1, state, states);
  }

  /** alterEntryRangeState: one program per bitmap word, from the last entry's word back to the first's. */
  private setStates(page: number, begin: number, end: number, state: number, states?: number[]): void {
    const clamped = Math.min(end, ENTRY_COUNT);
    for (let word = Math.floor((clamped - 1) / 16); word >= Math.floor(begin / 16); word--) {
      const at = page * PAGE_SIZE + BITMAP_OFFSET + word * 4;
      let next = new DataView(this.part.read(at, 4).buffer).getUint32(0, true);
      for (let e = Math.max(begin, word * 16); e < Math.min(clamped, word * 16 + 16); e++) {
        const shift = (e % 16) * 2;
        next = ((next & ~(0b11 << shift)) | ((state & (next >>> shift) & 0b11) << shift)) >>> 0;
        if (states) states[e] = state;
      }
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, next, true);
      this.part.write(at, b);
    }
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

/** Item::checkHeaderConsistency for a variable-length item at `entry`: CRC, and span and size within the page and agreeing. */
function headerOk(item: Uint8Array, entry: number): boolean {
  const v = new DataView(item.buffer, item.byteOffset);
  if (item[1] !== TYPE_BLOB || v.getUint32(4, true) !== itemCrc(item)) return false;
  const size = v.getUint16(24, true);
  const span = item[2];
  return size <= (ENTRY_COUNT - entry - 1) * ENTRY_SIZE && span <= ENTRY_COUNT - entry && span === 1 + Math.ceil(size / ENTRY_SIZE);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function keyOf(item: Uint8Array): string {
  let k = "";
  for (let i = 8; i < 8 + KEY_BYTES && item[i] !== 0; i++) k += String.fromCharCode(item[i]);
  return k;
}

/**
 * ESP-IDF's A/B boot behaviour with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, as the fakes see it,
 * at the level of otadata entries (esp_ota_select_entry_t: ota_seq, ota_state, a CRC over
 * ota_seq only), one per sector. Follows ESP-IDF v6.1-dev (102122904ad):
 * - esp_ota_ops.c esp_rewrite_ota_data (esp_ota_set_boot_partition): a new entry, state NEW, in
 *   the sector that is not active, with the next ota_seq that selects the slot
 *   (compute_ota_seq_for_target_slot); the same sector and seq if the active one selects it already;
 * - esp_ota_current_ota_is_workable: mark valid / invalid rewrite the ACTIVE sector in place, same seq;
 * - esp_ota_get_state_partition: the state of the first CRC-valid entry that selects the slot;
 * - bootloader_utility_get_selected_boot_partition: every PENDING_VERIFY entry becomes ABORTED in
 *   place; the active entry (bootloader_common_get_active_otadata: CRC valid, not INVALID/ABORTED,
 *   highest seq) selects the slot, NEW becomes PENDING_VERIFY in place; none active: ota_0.
 * A rewrite erases its sector, then writes the entry: a power cut in between (`cutNextBootWrite`)
 * leaves the sector erased, and the other (older) entry decides the next boot.
 * Image validity is modelled by the ESP image magic byte (0xE9) that esp_image_verify checks first.
 */
import type { SimFlash } from "../../../host-sim/virtual/flash";

export const IMG_NEW = 0;
export const IMG_PENDING_VERIFY = 1;
export const IMG_VALID = 2;
export const IMG_INVALID = 3;
export const IMG_ABORTED = 4;
/** No otadata entry / ESP_OTA_IMG_UNDEFINED, as the binding reports it. */
export const IMG_NONE = -1;
export const ESP_IMAGE_MAGIC = 0xe9;

/** One otadata sector's entry; undefined = erased (ota_seq 0xFFFFFFFF). */
interface Entry {
  seq: number;
  state: number;
}

export class BootModel {
  /** The two otadata sectors. */
  readonly entries: [Entry | undefined, Entry | undefined] = [undefined, undefined];
  running: 0 | 1 = 0;
  /** The bootloader's next otadata rewrite is cut by a power loss after its erase. */
  cutNextBootWrite = false;
  /** The last bootloader() run was cut short and ran again after a power-on. */
  powerCutAtBoot = false;

  constructor(
    private readonly flash: SimFlash,
    readonly rollbackEnabled: boolean,
  ) {}

  /** A serial flash of a factory image into `slot` (blank otadata). */
  flashFactory(slot: 0 | 1, label = "factory"): void {
    const part = this.flash.open(slot === 0 ? "ota_0" : "ota_1");
    for (let i = 0; i < part.size / part.blockSize; i++) part.eraseBlock(i);
    const image = new Uint8Array(16);
    image[0] = ESP_IMAGE_MAGIC;
    for (let i = 0; i < label.length && i < 15; i++) image[i + 1] = label.charCodeAt(i);
    part.write(0, image);
    this.entries[0] = this.entries[1] = undefined;
    this.running = slot;
  }

  other(slot: 0 | 1): 0 | 1 {
    return slot === 0 ? 1 : 0;
  }

  imageValid(slot: 0 | 1): boolean {
    return this.flash.open(slot === 0 ? "ota_0" : "ota_1").read(0, 1)[0] === ESP_IMAGE_MAGIC;
  }

  /** Per slot, what esp_ota_get_state_partition reports (IMG_NONE: no entry, or UNDEFINED). */
  get states(): [number, number] {
    return [this.stateOf(0), this.stateOf(1)];
  }

  /** The highest ota_seq of a CRC-valid entry (what the binding's recordSeq reads); 0 if none. */
  get seq(): number {
    return Math.max(0, ...this.entries.map((e) => e?.seq ?? 0));
  }

  /** The slot the active entry selects (ota_0 when none is active). */
  get bootSlot(): 0 | 1 {
    const a = this.active();
    return a < 0 ? 0 : slotOf(this.entries[a]!.seq);
  }

  /** esp_ota_set_boot_partition. */
  setBootSlot(slot: 0 | 1): void {
    if (slot === this.running) throw new Error("slot is running");
    if (!this.imageValid(slot)) throw new Error("ESP_ERR_OTA_VALIDATE_FAILED");
    const a = this.active();
    let sector: 0 | 1 = 0;
    let seq = slot + 1;
    if (a >= 0) {
      const cur = this.entries[a]!.seq;
      if (slotOf(cur) === slot) {
        sector = a as 0 | 1;
        seq = cur;
      } else {
        sector = a === 0 ? 1 : 0;
        const base = (slot + 1) % 2;
        let i = 0;
        while (cur > base + i * 2) i++;
        seq = base + i * 2;
      }
    }
    this.entries[sector] = { seq, state: this.rollbackEnabled ? IMG_NEW : IMG_NONE };
  }

  /** esp_ota_mark_app_valid_cancel_rollback: the active sector rewritten in place, same ota_seq. */
  markValid(): void {
    const a = this.active();
    if (a < 0) throw new Error("ESP_FAIL");
    const e = this.entries[a]!;
    if (e.state !== IMG_VALID) this.entries[a] = { seq: e.seq, state: IMG_VALID };
  }

  /** esp_ota_mark_app_invalid_rollback_and_reboot, minus the reboot (the caller restarts). */
  markInvalid(): void {
    const a = this.active();
    if (a < 0) throw new Error("ESP_FAIL");
    const other = this.other(this.running);
    const s = this.stateOf(other);
    if (!this.imageValid(other) || s === IMG_INVALID || s === IMG_ABORTED) throw new Error("ESP_ERR_OTA_ROLLBACK_FAILED");
    this.entries[a] = { seq: this.entries[a]!.seq, state: IMG_INVALID };
  }

  /** The second-stage bootloader, on every reset; after a cut write it runs again (power-on). */
  bootloader(): void {
    this.powerCutAtBoot = false;
    while (!this.tryBoot()) this.powerCutAtBoot = true;
  }

  private tryBoot(): boolean {
    if (this.rollbackEnabled) {
      for (const i of [0, 1] as const) {
        const e = this.entries[i];
        if (e?.state === IMG_PENDING_VERIFY && !this.rewrite(i, { seq: e.seq, state: IMG_ABORTED })) return false;
      }
    }
    let slot: 0 | 1 = 0;
    const a = this.active();
    if (a >= 0) {
      const e = this.entries[a]!;
      slot = slotOf(e.seq);
      if (this.rollbackEnabled && e.state === IMG_NEW && !this.rewrite(a as 0 | 1, { seq: e.seq, state: IMG_PENDING_VERIFY })) return false;
    }
    if (!this.imageValid(slot)) slot = this.other(slot);
    this.running = slot;
    return true;
  }

  /** An in-place rewrite: erase the sector, write the entry; false when the power was cut between. */
  private rewrite(sector: 0 | 1, e: Entry): boolean {
    if (this.cutNextBootWrite) {
      this.cutNextBootWrite = false;
      this.entries[sector] = undefined;
      return false;
    }
    this.entries[sector] = e;
    return true;
  }

  private stateOf(slot: 0 | 1): number {
    for (const e of this.entries) if (e && slotOf(e.seq) === slot) return this.rollbackEnabled ? e.state : IMG_NONE;
    return IMG_NONE;
  }

  /** bootloader_common_get_active_otadata: the valid entry with the highest seq, or -1. */
  private active(): number {
    let best = -1;
    for (const i of [0, 1]) {
      const e = this.entries[i];
      if (!e || e.state === IMG_INVALID || e.state === IMG_ABORTED) continue;
      if (best < 0 || e.seq > this.entries[best]!.seq) best = i;
    }
    return best;
  }
}

/** (ota_seq - 1) % 2: the slot an entry selects. */
function slotOf(seq: number): 0 | 1 {
  return ((seq - 1) % 2) as 0 | 1;
}

/**
 * Flash port over `embedded:storage/flash`.
 *
 * Partition names map onto Moddable paths: the running app slot is path "running" (opened
 * read-only: the agent must never write the code it is executing), the other app slot is
 * "nextota" (esp_ota_get_next_update_partition, read-write), and data partitions by label.
 * "otadata" is opened read-only: only the bootloader binding (boot.ts) changes boot state.
 * Raw NOR operations keep the port's semantics exactly, so the OTA writer resumes after a power
 * cut block by block, as it does in host-sim.
 */
import FlashStorage, { type Flash as StorageFlash } from "embedded:storage/flash";
import { FlashError, rethrowHalt, type Flash, type FlashPartition, type PartitionName, type SlotIndex } from "../../ports";

export class ModdableFlash implements Flash {
  private readonly open_ = new Map<PartitionName, ModdablePartition>();

  constructor(private readonly runningSlot: () => SlotIndex) {}

  open(name: PartitionName): FlashPartition {
    const cached = this.open_.get(name);
    if (cached) return cached;
    const { path, writable } = this.pathFor(name);
    let storage: StorageFlash;
    try {
      storage = FlashStorage.open({ path, mode: writable ? "r+" : "r" });
    } catch (e) {
      rethrowHalt(e); // a simulated power cut stops the device; it is not an I/O error
      throw new FlashError("absent", `flash: no partition for ${name} (path "${path}"): ${String(e)}`);
    }
    const part = new ModdablePartition(name, storage, writable);
    this.open_.set(name, part);
    return part;
  }

  private pathFor(name: PartitionName): { path: string; writable: boolean } {
    switch (name) {
      case "ota_0":
      case "ota_1": {
        const slot = name === "ota_0" ? 0 : 1;
        return slot === this.runningSlot() ? { path: "running", writable: false } : { path: "nextota", writable: true };
      }
      case "otadata":
        return { path: "otadata", writable: false };
      case "storage":
        return { path: "storage", writable: true };
      default:
        throw new FlashError("absent", `flash: unknown partition ${String(name)}`);
    }
  }
}

class ModdablePartition implements FlashPartition {
  readonly size: number;
  readonly blockSize: number;

  constructor(
    readonly name: PartitionName,
    private readonly storage: StorageFlash,
    private readonly writable: boolean,
  ) {
    const status = storage.status();
    this.size = status.size;
    this.blockSize = status.blockLength;
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    if (length === 0) return new Uint8Array(0);
    try {
      return new Uint8Array(this.storage.read(length, offset));
    } catch (e) {
      rethrowHalt(e); // a simulated power cut stops the device; it is not an I/O error
      throw new FlashError("io", `flash: read ${this.name}+${offset}: ${String(e)}`);
    }
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    if (!this.writable) throw new FlashError("io", `flash: ${this.name} is read-only here (running slot or boot data)`);
    if (data.length === 0) return;
    try {
      this.storage.write(data, offset);
    } catch (e) {
      rethrowHalt(e); // a simulated power cut stops the device; it is not an I/O error
      throw new FlashError("io", `flash: write ${this.name}+${offset}: ${String(e)}`);
    }
  }

  eraseBlock(index: number): void {
    const blocks = this.size / this.blockSize;
    if (!Number.isInteger(index) || index < 0 || index >= blocks) throw new FlashError("range", `flash: ${this.name} has no block ${index} (0..${blocks - 1})`);
    if (!this.writable) throw new FlashError("io", `flash: ${this.name} is read-only here (running slot or boot data)`);
    try {
      this.storage.eraseBlock(index);
    } catch (e) {
      rethrowHalt(e); // a simulated power cut stops the device; it is not an I/O error
      throw new FlashError("io", `flash: erase ${this.name} block ${index}: ${String(e)}`);
    }
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FlashError("range", `flash: ${this.name} range ${offset}+${length} outside 0..${this.size}`);
    }
  }
}

/**
 * Fake of `embedded:update` on ESP32 (modules/io/update/esp32 over esp_ota_begin/write/end/
 * set_boot_partition). Mode "a" appends and erases each sector as it is reached
 * (OTA_WITH_SEQUENTIAL_WRITES); mode "w" erases `byteLength` bytes (or the partition) at open
 * and writes at offsets. complete() checks the image and makes it the next boot.
 */
import { FakeFlash } from "./embedded-storage-flash";
import { world } from "./world";

class FakeUpdater {
  private done = false;
  private written = 0;
  private erasedTo = 0;

  constructor(
    private readonly flash: FakeFlash,
    private readonly append: boolean,
    private readonly blockLength: number,
  ) {}

  get format(): "buffer" {
    return "buffer";
  }
  set format(value: string) {
    if (value !== "buffer") throw new RangeError("invalid");
  }

  write(bytes: ArrayBuffer | ArrayBufferView, byteOffset?: number): void {
    if (this.done) throw new Error("already complete");
    const data = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.append) {
      if (byteOffset !== undefined) throw new Error("offset not allowed");
      const end = this.written + data.length;
      try {
        while (this.erasedTo < end) {
          this.flash.eraseBlock(this.erasedTo / this.blockLength);
          this.erasedTo += this.blockLength;
        }
        this.flash.write(data, this.written);
      } catch (e) {
        if (e instanceof Error && e.name === "PowerCut") throw e;
        throw new Error("write failed");
      }
      this.written = end;
      return;
    }
    if (byteOffset === undefined || byteOffset < 0) throw new RangeError("invalid offset");
    try {
      this.flash.write(data, byteOffset);
    } catch (e) {
      if (e instanceof Error && e.name === "PowerCut") throw e;
      throw new Error("write failed");
    }
    this.written = Math.max(this.written, byteOffset + data.length);
  }

  complete(): void {
    if (this.done) throw new Error("already complete");
    this.done = true;
    const slot = this.flash.partitionName === "ota_0" ? 0 : 1;
    if (this.written === 0 || !world().boot.imageValid(slot)) throw new Error("end failed");
    try {
      world().boot.setBootSlot(slot);
    } catch {
      throw new Error("can't change boot partition");
    }
  }

  close(): void {
    this.done = true;
  }
}

const Update = {
  open(options: { partition: FakeFlash; mode?: string; byteLength?: number }): FakeUpdater {
    if (!options || options.partition === undefined) throw new Error("no partition");
    const flash = options.partition;
    if (!(flash instanceof FakeFlash)) throw new Error("partition not found");
    if (flash.readOnly) throw new Error("read-only partition");
    if (flash.partitionName !== "ota_0" && flash.partitionName !== "ota_1") throw new Error("begin failed");
    const mode = options.mode ?? "a";
    if (mode !== "a" && mode !== "w") throw new RangeError("invalid mode");
    const { size, blockLength } = flash.status();
    if (mode === "w") {
      const length = options.byteLength ?? size;
      if (!Number.isInteger(length) || length < 0 || length > size) throw new RangeError("invalid byteLength");
      flash.eraseBlock(0, Math.ceil(length / blockLength));
    }
    return new FakeUpdater(flash, mode === "a", blockLength);
  },
};

export default Update;

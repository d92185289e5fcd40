/**
 * Fake of `embedded:storage/flash` on ESP32 (modules/io/flash/esp32): `open({path, mode})` with
 * "running", "nextota" or a data partition label; NOR semantics from SimFlash (erase -> 0xFF,
 * write ANDs bits; power cuts and I/O faults pass through its fault hook). Errors use the
 * module's texts ("can't find partition", "read-only", "read failed", ...). A PowerCut is
 * rethrown as-is: it stands for the chip losing power mid-call.
 */
import { PowerCut } from "../../../host-sim/virtual/flash";
import type { FlashPartition, PartitionName } from "../../../device/ports";
import { world } from "./world";

function toBytes(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new TypeError("buffer required");
}

function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PowerCut) throw e;
    throw new Error(`${what} failed`);
  }
}

export class FakeFlash {
  private open_ = true;

  constructor(
    readonly partitionName: PartitionName,
    private readonly part: FlashPartition,
    readonly readOnly: boolean,
  ) {}

  get format(): "buffer" {
    return "buffer";
  }
  set format(value: string) {
    if (value !== "buffer") throw new RangeError("unsupported");
  }

  close(): void {
    this.open_ = false;
  }

  status(): { size: number; blockLength: number; blocks: number } {
    this.check();
    return { size: this.part.size, blockLength: this.part.blockSize, blocks: this.part.size / this.part.blockSize };
  }

  read(what: number | ArrayBuffer | ArrayBufferView, byteOffset: number): ArrayBuffer | number {
    this.check();
    if (typeof what === "number") {
      const bytes = guard("read", () => this.part.read(byteOffset, what));
      return bytes.slice().buffer as ArrayBuffer;
    }
    const target = toBytes(what);
    target.set(guard("read", () => this.part.read(byteOffset, target.length)));
    return target.length;
  }

  write(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): void {
    this.check();
    if (this.readOnly) throw new Error("read-only");
    const bytes = toBytes(buffer).slice();
    guard("write", () => this.part.write(byteOffset, bytes));
  }

  eraseBlock(start: number, end = start + 1): void {
    this.check();
    if (this.readOnly) throw new Error("read-only");
    for (let i = start; i < end; i++) guard("erase", () => this.part.eraseBlock(i));
  }

  private check(): void {
    if (!this.open_) throw new Error("closed");
  }
}

function resolve(path: string): PartitionName {
  const boot = world().boot;
  if (path === "running") return boot.running === 0 ? "ota_0" : "ota_1";
  if (path === "nextota") return boot.running === 0 ? "ota_1" : "ota_0";
  // By label, data partitions only (esp_partition_find_first(DATA, ANY, label)).
  if (path === "otadata" || path === "storage") return path;
  throw new Error("can't find partition");
}

const FlashStorage = {
  open(options: { path: string; mode?: string }): FakeFlash {
    if (!options || typeof options.path !== "string") throw new Error("no path");
    const mode = options.mode ?? "r+";
    if (mode !== "r" && mode !== "r+") throw new Error("invalid mode");
    const name = resolve(options.path);
    let part: FlashPartition;
    try {
      part = world().flash.open(name);
    } catch {
      throw new Error("can't find partition");
    }
    return new FakeFlash(name, part, mode === "r");
  },
};

export default FlashStorage;

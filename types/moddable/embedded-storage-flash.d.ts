/**
 * `embedded:storage/flash` — ECMA-419 Flash storage (2nd edition, "Flash" storage class
 * pattern), as implemented by Moddable in modules/io/flash/esp32 (flash-esp32.js/.c).
 * The @moddable/typings 5.6.0 npm release has no declaration for it.
 *
 * Moddable documentation: documentation/io/io.md, "IO Class Pattern" (read/write/close,
 * `format`), and the ESP32 notes for OTA: `open({path})` accepts a partition label, or the
 * special paths "running" (the running app slot) and "nextota" (esp_ota_get_next_update_partition).
 * `mode` is "r" (read-only) or "r+" (read-write, the default).
 */
declare module "embedded:storage/flash" {
  export interface FlashOpenOptions {
    path: string;
    mode?: "r" | "r+";
  }

  /** ESP32 reports size, blockLength and blocks; other hosts may add writeAlign/eraseValue. */
  export interface FlashStatus {
    size: number;
    blockLength: number;
    blocks: number;
    writeAlign?: number;
    eraseValue?: number;
  }

  export interface Flash {
    close(): void;
    /** Erases blocks [start, end) (just `start` when `end` is omitted); erased bytes read 0xFF. */
    eraseBlock(start: number, end?: number): void;
    /** Reads `byteLength` bytes at `byteOffset` into a new ArrayBuffer. */
    read(byteLength: number, byteOffset: number): ArrayBuffer;
    /** Reads into `buffer` (fills it) and returns its length. */
    read(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): number;
    /** NOR write: bits can only be cleared; erase first. Throws on a read-only instance. */
    write(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): void;
    status(): FlashStatus;
    format: "buffer";
  }

  const FlashStorage: {
    open(options: FlashOpenOptions): Flash;
  };
  export default FlashStorage;
}

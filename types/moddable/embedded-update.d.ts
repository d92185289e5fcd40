/**
 * `embedded:update` — Moddable's ECMA-419-style firmware update writer
 * (modules/io/update/esp32: update-esp32.js/.c, maps onto esp_ota_begin/write/end).
 * The @moddable/typings 5.6.0 npm release has no declaration for it.
 *
 * Moddable documentation: documentation/io/io.md "IO Class Pattern" for open/write/close and
 * `format` ("buffer" only). Semantics on ESP32, from the module's documented behaviour:
 * - `open({partition, mode, byteLength})`: `partition` is a writable `embedded:storage/flash`
 *   instance (normally path "nextota"). Mode "a" (default) appends sequentially and erases as it
 *   goes; mode "w" writes at explicit offsets and erases `byteLength` bytes (or the whole
 *   partition) up front.
 * - `write(bytes)` in mode "a"; `write(bytes, byteOffset)` in mode "w".
 * - `complete()` validates the image (esp_ota_end) and makes it the next boot partition.
 * - `close()` abandons an incomplete update.
 * It cannot confirm an image or read its state: that is what the tether-esp binding adds.
 */
declare module "embedded:update" {
  import type { Flash } from "embedded:storage/flash";

  export interface UpdateOpenOptions {
    partition: Flash;
    mode?: "a" | "w";
    byteLength?: number;
  }

  export interface Updater {
    close(): void;
    complete(): void;
    write(bytes: ArrayBuffer | ArrayBufferView, byteOffset?: number): void;
    format: "buffer";
  }

  const Update: {
    open(options: UpdateOpenOptions): Updater;
  };
  export default Update;
}

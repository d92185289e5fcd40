/**
 * Streaming writer for the next app slot over `embedded:update` (esp_ota_begin/write/end +
 * set_boot_partition). complete() verifies the image and makes it the next boot (a trial,
 * PENDING_VERIFY on first boot when rollback is enabled).
 *
 * The agent's OTA path does not use this: it writes the slot block by block through the Flash
 * port (raw `embedded:storage/flash` "nextota") so a download can resume after a power cut, and
 * sets the boot slot through BootControl.setPending. esp_ota_begin cannot resume (it erases),
 * so this writer is for one-shot transfers: serial/USB recovery, a local push, small images.
 */
import FlashStorage from "embedded:storage/flash";
import Update, { type Updater } from "embedded:update";

export class UpdateWriter {
  private done = false;

  private constructor(private readonly updater: Updater) {}

  /** Opens the next OTA slot for sequential writing (erases sector by sector as it goes). */
  static open(): UpdateWriter {
    const partition = FlashStorage.open({ path: "nextota", mode: "r+" });
    return new UpdateWriter(Update.open({ partition, mode: "a" }));
  }

  write(bytes: Uint8Array): void {
    if (this.done) throw new Error("update: already completed or closed");
    if (bytes.length > 0) this.updater.write(bytes);
  }

  /** Validates the image and sets it as the next boot; throws if the image is bad. */
  complete(): void {
    if (this.done) throw new Error("update: already completed or closed");
    this.done = true;
    this.updater.complete();
  }

  /** Abandons an incomplete update. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.updater.close();
  }
}

/**
 * OtaStore on NVS as flash: a write that NVS reports as done but that comes out corrupt (an item
 * programmed over a torn entry's leftovers, host-sim/virtual/nvs-flash.ts) must not lose the
 * rejection list or the attempt record: ESP-IDF reports such a write as done and drops the item at
 * its next lookup, so a lost rejection lets a crashed build install again.
 */
import { describe, expect, it } from "vitest";
import { OtaStore } from "../../device/core/ota/store";
import { SimFlash } from "../../host-sim/virtual/flash";
import { NvsFlashKv } from "../../host-sim/virtual/nvs-flash";

const ENTRIES = 64;
const ENTRY = 32;

/** An NVS store whose next free entry holds a torn program's leftovers (first word still erased). */
function dirtyStore(): { part: ReturnType<SimFlash["open"]>; store: OtaStore } {
  const flash = new SimFlash([{ name: "storage" as const, size: 6 * 4096 }]);
  const part = flash.open("storage");
  new NvsFlashKv(part).set("x", new Uint8Array([1, 2, 3])); // entries 0 and 1
  part.write(ENTRIES + 2 * ENTRY + 4, new Uint8Array([0x00, 0x00])); // leftovers in entry 2's CRC field
  return { part, store: new OtaStore(new NvsFlashKv(part)) };
}

describe("OtaStore over NVS that silently drops a corrupt item", () => {
  it("a rejection written over a torn entry is still there after a reboot", () => {
    const { part, store } = dirtyStore();
    store.reject(2, 1);
    expect(new OtaStore(new NvsFlashKv(part)).isRejected(2)).toBe(true);
  });

  it("the attempt record's stage written over a torn entry is still there after a reboot", () => {
    const { part, store } = dirtyStore();
    store.setAttempt({ version: 2, slot: 1, securityCounter: 2, seqBefore: 1, stage: 0, attempts: 1, offer: new Uint8Array(0) });
    expect(new OtaStore(new NvsFlashKv(part)).attempt()?.version).toBe(2);
  });
});

/**
 * Images are real builds of the device agent: two versions are built, v1 is factory-flashed,
 * v2 arrives over OTA, and the code evaluated from the booted slot changes from 1.0.0 to 2.0.0.
 */
import { describe, expect, it } from "vitest";
import { buildAgentPayload, loadSlotModule } from "../../tools/ota/app-image";
import { provision } from "../../host-sim/boot/provision";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { createBundle } from "../../tools/ota/bundle";
import { versionNumber } from "../../device/core/ota/version";
import { backendFor, freshFlash, HW, KEY, rig, sha256 } from "./fixtures";

describe("booting the other slot runs the other build", () => {
  it("v1 → OTA → v2, the module evaluated from the running slot reports the new version", async () => {
    const [p1, p2] = await Promise.all([buildAgentPayload("1.0.0"), buildAgentPayload("2.0.0")]);
    expect(p1).not.toEqual(p2);
    const sign = (payload: Uint8Array, v: string) =>
      createBundle(payload, { version: versionNumber(v), hardwareId: HW, securityCounter: 1 }, KEY.secretKey, sha256);
    const b1 = sign(p1, "1.0.0");
    const b2 = sign(p2, "2.0.0");
    const slotSize = Math.ceil((Math.max(b1.image.length, b2.image.length) + 1) / 4096) * 4096;
    const flash = freshFlash(undefined, slotSize);
    provision(flash, b1.image, 0);
    const kv = new MemoryKv();

    const r = rig(flash, kv, backendFor(b2));
    const first = r.bootOnce();
    expect(first).toMatchObject({ slot: 0, version: versionNumber("1.0.0"), end: "restart" });
    const before = await loadSlotModule(flash, 0);
    expect(before.FIRMWARE_VERSION).toBe("1.0.0");
    expect(typeof before.Agent).toBe("function");

    const second = r.runUntilSteady();
    expect(second).toMatchObject({ slot: 1, version: versionNumber("2.0.0") });
    const after = await loadSlotModule(flash, second.slot!);
    expect(after.FIRMWARE_VERSION).toBe("2.0.0");
    expect(typeof after.Agent).toBe("function");
  });
});

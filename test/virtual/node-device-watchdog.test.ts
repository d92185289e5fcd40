/**
 * `tether device` (host-sim/node-device.ts) has the board's task watchdog: a trial image whose
 * module never finishes loading (a top-level await that never settles) used to leave the
 * process with nothing to do, and Node exited 13 silently. Now the watchdog resets it, the
 * bootloader counts the failed trial and boots the previous image again.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_HARDWARE_ID } from "../../device/core/agent";
import { versionNumber } from "../../device/core/ota/version";
import { FIRMWARE_VERSION } from "../../device/core/version";
import { openFileFlash } from "../../host-sim/file-flash";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { wrapImage } from "../../bootloader-spec/reference/image";
import { SimBootControl } from "../../host-sim/boot/boot-control";
import { writeSlot } from "../../host-sim/boot/provision";
import { ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE } from "../../host-sim/layout";
import { startNodeDevice, type RunningDevice } from "../../host-sim/node-device";
import { buildAgentPayload } from "../../tools/ota/app-image";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-wdt-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const WATCHDOG_MS = 400;

function start(messages: string[]): Promise<RunningDevice> {
  return startNodeDevice({
    deviceId: "wdt-1",
    // Nothing listens there: this test is about booting, not the link.
    brokers: ["mqtt://127.0.0.1:1"],
    stateDir: dir,
    log: () => {},
    onEvent: () => {},
    onBoot: (m) => messages.push(m),
    watchdogMs: WATCHDOG_MS,
    link: { backoff: { powerOnMaxMs: 60_000 } },
  });
}

describe("tether device: the task watchdog", () => {
  it("resets a trial image that never finishes starting, and the bootloader goes back to the good one", async () => {
    const first: string[] = [];
    (await start(first)).stop();
    expect(first.join("\n")).toMatch(/factory image .* flashed into slot 0/);

    // A trial of an image that hangs at top level, as an OTA install leaves it.
    const flash = openFileFlash(path.join(dir, "flash"), ESP32_4MB_LAYOUT, FLASH_BLOCK_SIZE);
    const payload = await buildAgentPayload("9.9.9");
    const hang = new Uint8Array([...new TextEncoder().encode("await new Promise(() => {});\n"), ...payload]);
    writeSlot(flash, 1, wrapImage(hang, versionNumber("9.9.9"), DEFAULT_HARDWARE_ID, nodeSha256));
    new SimBootControl(flash, 0, true, () => {}).setPending(1);

    const messages: string[] = [];
    const device = await start(messages);
    try {
      // The boot of slot 1 hangs; within the watchdog time and a reboot, slot 0 runs again.
      const deadline = Date.now() + 60_000;
      while (!messages.some((m) => /^bootloader: slot 0/.test(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      device.stop();
    }
    const text = messages.join("\n");
    expect(text).toMatch(/^bootloader: slot 1, image 9009009/m);
    expect(text).toMatch(new RegExp(`^watchdog: the image in slot 1 did not start within ${WATCHDOG_MS} ms \\(hung\\); resetting$`, "m"));
    expect(messages.findIndex((m) => /^bootloader: slot 0/.test(m))).toBeGreaterThan(messages.findIndex((m) => m.startsWith("watchdog:")));
    expect(device.agent?.version ?? FIRMWARE_VERSION).toBe(FIRMWARE_VERSION);
  }, 120_000);
});

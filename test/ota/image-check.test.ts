/** The slot-image format checks the device runs before it stages an image. */
import { describe, expect, it } from "vitest";
import { espIdfImageCheck, tetherImageCheck } from "../../device/core/ota/image-check";
import { describeImage } from "../../tools/ota/bundle";
import { bundle, HW, sha256 } from "./fixtures";

const reader = (img: Uint8Array) => (off: number, len: number) => img.subarray(off, off + len);

function espImage(size: number): Uint8Array {
  const img = new Uint8Array(size);
  img[0] = 0xe9;
  new DataView(img.buffer).setUint32(32, 0xabcd5432, true);
  return img;
}

describe("image checks", () => {
  it("tether: accepts its own image, refuses a changed version, hardware, payload or a foreign format", () => {
    const b = bundle(2);
    expect(tetherImageCheck(reader(b.image), b.manifest, sha256)).toBeUndefined();
    expect(tetherImageCheck(reader(b.image), { ...b.manifest, version: 3 }, sha256)).toMatch(/version/);
    expect(tetherImageCheck(reader(b.image), { ...b.manifest, hardwareId: "x" }, sha256)).toMatch(/hardware/);
    const bad = b.image.slice();
    bad[100] ^= 1;
    expect(tetherImageCheck(reader(bad), b.manifest, sha256)).toMatch(/appended image hash/);
    const esp = espImage(5000);
    expect(tetherImageCheck(reader(esp), describeImage(esp, { version: 2, hardwareId: HW, securityCounter: 1 }, sha256), sha256)).toMatch(/no Tether image header/);
  });

  it("esp-idf: wants the image magic and the app description magic", () => {
    const esp = espImage(5000);
    const m = describeImage(esp, { version: 2, hardwareId: HW, securityCounter: 1 }, sha256);
    expect(espIdfImageCheck(reader(esp), m, sha256)).toBeUndefined();
    const noMagic = esp.slice();
    noMagic[0] = 0;
    expect(espIdfImageCheck(reader(noMagic), m, sha256)).toMatch(/magic/);
    const noDesc = esp.slice();
    noDesc[33] = 0;
    expect(espIdfImageCheck(reader(noDesc), m, sha256)).toMatch(/app description/);
    const b = bundle(2);
    expect(espIdfImageCheck(reader(b.image), b.manifest, sha256)).toMatch(/not an ESP-IDF/);
  });
});

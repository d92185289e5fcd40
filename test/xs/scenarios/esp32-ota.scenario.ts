/**
 * An OTA update end to end on the ESP32 adapters, inside XS: the agent (main.ts) downloads a
 * signed ESP-IDF-format image from the virtual broker into "nextota" through
 * embedded:storage/flash, sets it as the trial boot through the tether-esp binding, restarts,
 * passes its health check on the trial boot and confirms it. A second update boots while the
 * broker is down, rolls back as retryable and lands on its retry; a third panics at start, with
 * a power cut during the bootloader's in-place ABORTED rewrite, and is rejected.
 * The ESP-IDF boot behaviour (NEW -> PENDING_VERIFY -> VALID / INVALID / ABORTED) is the fakes' model.
 */
import type { ScenarioHost } from "../scenario-host";
import { FakeRestart, FakeWorld, installWorld, uninstallWorld } from "../../fakes/moddable/world";
import { VirtualBroker } from "../../../host-sim/broker/virtual-broker";
import { jsSha256 } from "../../../host-sim/virtual/sha256";
import { createBundle, keyPairFromSeed, splitBlocks } from "../../../tools/ota/bundle";
import { otaTopics } from "../../../device/core/ota/topics";
import { startDevice, type Device } from "../../../device/platform/moddable/main";

const DEVICE = "esp-0001";
const HARDWARE = "tether-esp32";
const VERSION_AT = 64;

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/** A stand-in ESP-IDF app image: image magic, esp_app_desc_t magic at 32, our version string at 64. */
function espImage(version: string, length: number): Uint8Array {
  const img = new Uint8Array(length);
  for (let i = 0; i < length; i++) img[i] = (i * 7 + 3) & 0xff;
  img[0] = 0xe9;
  img.set([0x32, 0x54, 0xcd, 0xab], 32);
  for (let i = 0; i < 16; i++) img[VERSION_AT + i] = i < version.length ? version.charCodeAt(i) : 0;
  return img;
}

/** The version of the image in the running slot, as its esp_app_desc_t would say. */
function runningVersion(w: FakeWorld): string {
  const img = w.flash.image(w.boot.running === 0 ? "ota_0" : "ota_1");
  let s = "";
  for (let i = VERSION_AT; i < VERSION_AT + 16 && img[i] !== 0 && img[i] !== 0xff; i++) s += String.fromCharCode(img[i]);
  return /^\d+\.\d+\.\d+$/.test(s) ? s : "1.0.0"; // the serial-flashed factory image
}

export function run(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld({ seed: 11 }));
  const seed = new Uint8Array(32);
  for (let i = 0; i < 32; i++) seed[i] = i * 3 + 1;
  const keys = keyPairFromSeed(seed);
  Object.assign(w.config, {
    deviceId: DEVICE,
    broker: "mqtt://broker.lan:1883",
    wifiSsid: "tether-lab",
    wifiPassword: "secret",
    otaPublicKey: hex(keys.publicKey),
    hardwareId: HARDWARE,
    telemetryIntervalMs: 10_000,
    batteryPin: 35,
    batteryFullScaleMv: 6600,
  });
  w.analog.set(35, 2482); // 3999 mV: a healthy cell, so OTA is allowed
  w.dns.set("broker.lan", "10.0.0.5");
  const broker = new VirtualBroker(w.network, { host: "10.0.0.5", port: 1883 }).start();
  const topics = otaTopics(DEVICE);

  let device: Device;
  /** A build that panics at start; its first panic's abort is cut (see update 3). */
  const CRASHING = "1.3.0";
  let crashes = 0;
  const boot = () => {
    w.config.firmwareVersion = runningVersion(w);
    host.emit(`@${w.clock.now()} boot slot=${w.boot.running} v${w.config.firmwareVersion} state=${device?.ports.boot.runningState() ?? "-"}`);
    if (w.config.firmwareVersion === CRASHING) {
      crashes++;
      host.emit(`@${w.clock.now()} panic at start`);
      // The first time, the power fails while the bootloader writes ABORTED in place.
      if (crashes === 1) w.boot.cutNextBootWrite = true;
      w.restart("panic", 4);
    }
    device = startDevice(w.config, (e) => {
      if (e.type === "ota") host.emit(`@${w.clock.now()} ota state=${e.status.state} result=${e.status.result}${e.status.cause ? ` cause=${e.status.cause}` : ""}${e.status.detail ? ` detail=${e.status.detail}` : ""}`);
      else if (e.type === "error") host.emit(`@${w.clock.now()} error ${e.message}`);
    });
  };
  let onRestart: (() => void) | undefined;
  let needBoot = true;
  /** Runs the world for `ms`, booting the program again whenever the chip restarts. */
  const runFor = (ms: number) => {
    const until = w.clock.now() + ms;
    for (;;) {
      try {
        if (needBoot) {
          needBoot = false;
          boot();
        }
        w.clock.runUntil(until);
        return;
      } catch (e) {
        if (!(e instanceof FakeRestart)) throw e;
        host.emit(`@${w.clock.now()} restart (${e.why}) reset=${w.resetReason}`);
        onRestart?.();
        needBoot = true;
      }
    }
  };
  const offer = (version: string, versionNumber: number, counter: number) => {
    const bundle = createBundle(espImage(version, 20_000), { version: versionNumber, hardwareId: HARDWARE, securityCounter: counter, format: "raw" }, keys.secretKey, jsSha256);
    splitBlocks(bundle.image, bundle.manifest.blockSize).forEach((b, i) => broker.publishInternal(topics.block(i), b, { qos: 1, retain: true }));
    broker.publishInternal(topics.manifest, bundle.envelope, { qos: 1, retain: true });
    host.emit(`@${w.clock.now()} offered v${version} (${bundle.image.length} bytes)`);
  };
  const clearOffer = () => {
    broker.publishInternal(topics.manifest, new Uint8Array(0), { qos: 1, retain: true });
  };

  runFor(30_000);

  // Update 1: downloads, trial boot, health check passes, confirmed.
  offer("1.1.0", 1_001_000, 1);
  runFor(300_000);
  clearOffer();
  runFor(10_000);
  host.emit(`@${w.clock.now()} after update 1: slot=${w.boot.running} v${runningVersion(w)} state=${device!.ports.boot.runningState()} other=${device!.ports.boot.slotState(w.boot.running === 0 ? 1 : 0)}`);

  // Update 2: the trial boots while the broker is down, cannot pass its health check, and rolls
  // back as retryable (109, network); with the broker back, the old image installs it again
  // after the backoff and it is confirmed.
  let restarts = 0;
  onRestart = () => {
    restarts++;
    if (restarts === 1) {
      broker.stop();
      host.emit(`@${w.clock.now()} broker down for the trial`);
    }
  };
  offer("1.2.0", 1_002_000, 2);
  runFor(400_000);
  if (!broker.running) broker.start();
  host.emit(`@${w.clock.now()} broker up`);
  runFor(250_000); // reconnect, the 120 s retry backoff, the download from the slot, a trial that passes
  onRestart = undefined;
  clearOffer();
  runFor(10_000);
  host.emit(`@${w.clock.now()} after update 2: slot=${w.boot.running} v${runningVersion(w)} state=${device!.ports.boot.runningState()} other=${device!.ports.boot.slotState(w.boot.running === 0 ? 1 : 0)}`);

  // Update 3: a build that panics at start, and a power cut lands while the bootloader rewrites
  // its otadata entry as ABORTED (in place): the entry is lost and the reset reads as power-on.
  // The device cannot tell that from a crash, so it rejects the version (105, then 106).
  offer(CRASHING, 1_003_000, 3);
  runFor(60_000);
  host.emit(`@${w.clock.now()} after update 3: slot=${w.boot.running} v${runningVersion(w)} state=${device!.ports.boot.runningState()} other=${device!.ports.boot.slotState(w.boot.running === 0 ? 1 : 0)} crashes=${crashes}`);
  device!.agent.stop();
  uninstallWorld();
}

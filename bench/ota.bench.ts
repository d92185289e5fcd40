/**
 * OTA benchmarks:
 * - XS computrons of the manifest signature check: tweetnacl vs @noble/ed25519 (same manifest);
 * - update time of a 1.5 MB image over a loopback Mosquitto (push → confirmed v2) against the
 *   raw time to move the same bytes with mosquitto_pub / mosquitto_sub, as a ratio;
 * - bytes downloaded again after a mid-download disconnect.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { xsComputrons } from "./lib/measure";
import { startMosquitto } from "../test/helpers/mosquitto";
import { NodeClock } from "../device/platform/node/clock";
import { nodeNetwork } from "../device/platform/node/network";
import { MqttOtaDevice } from "../host-sim/boot/mqtt-ota-device";
import { provision } from "../host-sim/boot/provision";
import { SimFlash } from "../host-sim/virtual/flash";
import { MemoryKv } from "../host-sim/virtual/kv";
import { nodeSha256 } from "../device/platform/node/sha256";
import { createBundle, keyPairFromSeed, type Bundle } from "../tools/ota/bundle";
import { pushBundle } from "../tools/ota/push";
import { payload } from "../test/xs/scenarios/ota-verify.scenario";

const HW = "tether-devkit";
const IMAGE_BYTES = 1_572_864; // 1.5 MiB
const SLOT = 1_638_400; // 400 blocks of 4 KiB
const key = keyPairFromSeed(new Uint8Array(32).fill(7));


function device(port: number, id: string, window = 4): { dev: MqttOtaDevice; v2: Bundle; clock: NodeClock } {
  const flash = new SimFlash([{ name: "otadata", size: 8192 }, { name: "ota_0", size: SLOT }, { name: "ota_1", size: SLOT }]);
  provision(flash, createBundle(payload(1, 1000), { version: 1, hardwareId: HW, securityCounter: 1 }, key.secretKey, nodeSha256).image, 0);
  const v2 = createBundle(payload(2, IMAGE_BYTES - 64), { version: 2, hardwareId: HW, securityCounter: 1 }, key.secretKey, nodeSha256);
  const clock = new NodeClock();
  const dev = new MqttOtaDevice({ deviceId: id, host: "127.0.0.1", port, flash, kv: new MemoryKv(64 * 1024), hardwareId: HW, trustedKeys: [key.publicKey], otaOptions: { window }, clock, network: nodeNetwork, sha256: nodeSha256, wallClock: { now: () => Date.now() } });
  return { dev, v2, clock };
}

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => (cond() ? resolve() : Date.now() - t0 > ms ? reject(new Error("timeout")) : setTimeout(tick, 2));
    tick();
  });
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    p.once("error", reject);
    p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** mosquitto_sub waits for N messages while mosquitto_pub sends the image (one message, and as blocks). */
async function rawTransfer(port: number, image: Uint8Array): Promise<{ oneMessageMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-raw-"));
  const file = path.join(dir, "image.bin");
  fs.writeFileSync(file, image);
  try {
    const sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(port), "-t", "raw/image", "-q", "1", "-C", "1"], { stdio: ["ignore", "ignore", "inherit"] });
    const done = new Promise<void>((resolve) => sub.once("exit", () => resolve()));
    await new Promise((r) => setTimeout(r, 300)); // let the subscription land
    const t0 = performance.now();
    await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-t", "raw/image", "-q", "1", "-f", file]);
    await done;
    return { oneMessageMs: performance.now() - t0 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export default async () => {
  const sig = await xsComputrons(new URL("../test/xs/scenarios/ota-sigcost.scenario.ts", import.meta.url), { timeoutMs: 300_000 });
  const broker = await startMosquitto();
  try {
    // 1. Full update time (push until the device reports v2 confirmed), default window and a wider one.
    const update = async (id: string, window: number) => {
      const a = device(broker.port, id, window);
      a.dev.boot();
      await waitFor(() => a.dev.statuses.length > 0, 5000);
      const t0 = performance.now();
      const pushed = await pushBundle({ broker: `mqtt://127.0.0.1:${broker.port}`, deviceId: id, envelope: a.v2.envelope, image: a.v2.image, waitSeconds: 120 });
      const ms = performance.now() - t0;
      a.dev.stop();
      a.clock.clearAll();
      if (!pushed.ok) throw new Error(`update failed: ${JSON.stringify(pushed.status)}`);
      return { ms, pushed, a };
    };
    const { ms: updateMs, pushed, a } = await update("bench-ota-1", 4);
    const wide = await update("bench-ota-w", 16);

    // 2. Raw bytes with the Mosquitto clients.
    const raw = await rawTransfer(broker.port, a.v2.image);

    // 3. Disconnect half-way: bytes fetched again.
    const b = device(broker.port, "bench-ota-2");
    await pushBundle({ broker: `mqtt://127.0.0.1:${broker.port}`, deviceId: "bench-ota-2", envelope: b.v2.envelope, image: b.v2.image });
    b.dev.boot();
    const half = b.v2.image.length / 2;
    await waitFor(() => b.dev.blockBytes >= half, 60_000);
    b.dev.dropLink();
    const atDrop = b.dev.blockBytes;
    await new Promise((r) => setTimeout(r, 200));
    b.dev.reconnect();
    await waitFor(() => b.dev.statuses.some((s) => s.result === 1 && s.version === 2), 120_000);
    b.dev.stop();
    b.clock.clearAll();
    const refetched = b.dev.blockBytes - b.v2.image.length;

    const tweet = sig.metrics["tweetnacl-verify"];
    const noble = sig.metrics["noble-verify"];
    return {
      signatureCheckXs: {
        manifestBytes: sig.metrics["manifest-bytes"],
        tweetnaclComputrons: tweet,
        nobleComputrons: noble,
        tweetnaclOverNoble: Math.round((tweet / noble) * 100) / 100,
        tweetnaclMsOnXsX86: sig.metrics["tweetnacl-verify-ms"],
        nobleMsOnXsX86: sig.metrics["noble-verify-ms"],
        bothAccept: sig.metrics["both-accept"] === 1,
      },
      update1_5MB: {
        imageBytes: a.v2.image.length,
        blocks: pushed.blocks,
        pushToConfirmedMs: Math.round(updateMs),
        rawMosquittoPubSubMs: Math.round(raw.oneMessageMs),
        ratio: Math.round((updateMs / raw.oneMessageMs) * 10) / 10,
        window16PushToConfirmedMs: Math.round(wide.ms),
        window16Ratio: Math.round((wide.ms / raw.oneMessageMs) * 10) / 10,
      },
      disconnectMidDownload: {
        imageBytes: b.v2.image.length,
        bytesBeforeDrop: atDrop,
        bytesDownloadedAgain: refetched,
        blocksDownloadedAgain: Math.round(refetched / 4096),
      },
    };
  } finally {
    await broker.stop();
  }
};
